"""The reference post's six Llama-2-13b-chat labels and their topics, written from the post's printed tables.

The post (``shared/seed/topic_modeling_with_llama2.txt``) prints, for its three largest and three smallest
topics of arXiv ML abstracts, the c-TF-IDF keywords, the KeyBERT keywords and Llama 2's label. The
documents here are short abstracts written from those keywords (the post prints none): what a topic with
those keywords reads like. Used by the tests and the label benchmark.
"""

from helpers.post_topics import POST_TOPICS


def _post(topic: int) -> dict:
    """The post's label and c-TF-IDF keywords of ``topic``."""
    row = next(r for r in POST_TOPICS if r["topic"] == topic)
    return {"label": row["llama2"], "keywords": row["keywords"]}


LLAMA2_TOPICS = {
    0: dict(
        **_post(0),
        keybert=["learning", "robots", "reinforcement", "dynamics", "model", "robotic", "learned", "robot", "algorithms",
                 "exploration"],
        documents=[
            "We propose a reinforcement learning method in which the agent learns a control policy from sparse reward.",
            "Deep RL agents for robotic control struggle with exploration when the reward is delayed.",
            "A model-based reinforcement learning algorithm learns the dynamics of the robot and plans a policy.",
            "Multi-agent reinforcement learning: agents learn to cooperate through a shared reward signal.",
            "We study policy gradient methods for continuous control and show faster learning of the agent.",
            "Offline RL learns a policy from logged data without further interaction of the agent with the environment.",
            "Safe exploration in reinforcement learning keeps the control policy of a robot within constraints.",
            "Hierarchical reinforcement learning agents decompose control into sub-policies with intrinsic reward.",
        ]),
    1: dict(
        **_post(1),
        keybert=["federated", "decentralized", "heterogeneity", "distributed", "algorithms", "datasets", "models",
                 "convergence", "model", "gradient"],
        documents=[
            "Federated learning (FL) trains a machine learning model on clients that keep their data local.",
            "We study the convergence of federated learning when client data are heterogeneous.",
            "Differential privacy for federated learning: private gradient updates with low communication cost.",
            "Communication-efficient FL compresses the local updates each client sends to the server.",
            "Privacy-preserving machine learning protects the training data of each participant.",
            "Decentralized federated learning without a server: clients exchange models with their neighbours.",
            "Attacks on federated learning recover private data from the gradients clients share.",
            "Personalized federated learning adapts the global model to the local data of each client.",
        ]),
    2: dict(
        **_post(2),
        keybert=["encoder", "speech", "voice", "trained", "language", "models", "neural", "model", "supervised",
                 "learning"],
        documents=[
            "End-to-end automatic speech recognition (ASR) with a transformer encoder trained on 1,000 hours of audio.",
            "Audio-visual speech recognition uses the speaker's lips to improve recognition in noise.",
            "Self-supervised speech models learn acoustic representations from unlabeled audio.",
            "Speaker verification from short voice recordings with a neural encoder.",
            "Music generation and audio processing with a language model over discrete audio tokens.",
            "We improve ASR for low-resource languages by pre-training the acoustic model on speech in many languages.",
            "Visual cues and audio processing together separate the voice of each speaker in a video.",
            "Voice conversion changes the speaker of a speech recording while keeping what is said.",
        ]),
    117: dict(
        **_post(117),
        keybert=["circuits", "circuit", "analog", "optimization", "model", "chip", "technology", "simulation",
                 "learning", "neural"],
        documents=[
            "Analog circuit design automation: a reinforcement learning agent sizes the transistors of each circuit.",
            "Chip placement with deep reinforcement learning produces designs with lower power than experts.",
            "High-level synthesis (HLS) of hardware designs is optimized with a learned model of the circuit.",
            "We automate the design of analog circuits by learning from simulation of each candidate design.",
            "Electronic design automation with graph neural networks predicts the power of a circuit before synthesis.",
            "Logic synthesis and placement of digital circuits are optimized end to end on the chip.",
            "Bayesian optimization of analog circuits reduces the number of costly circuit simulations.",
            "Reinforcement learning for hardware design explores the space of chip designs under a power budget.",
        ]),
    118: dict(
        **_post(118),
        keybert=["embeddings", "sentiment", "sentiments", "supervised", "annotated", "corpus", "aspect", "multilingual",
                 "datasets", "model"],
        documents=[
            "Aspect-based sentiment analysis finds the polarity of the opinion on each aspect of a product in reviews.",
            "A multilingual corpus of annotated tweets for sentiment analysis in twelve languages.",
            "We classify the sentiment polarity of Twitter text with contextual embeddings.",
            "Cross-lingual transfer for aspect-based sentiment analysis in a language without annotated data.",
            "Opinion mining in product reviews: the task of extracting aspect terms and their sentiment.",
            "Multilingual sentiment analysis with a pre-trained language model fine-tuned on English reviews.",
            "Sarcasm makes the sentiment of a text hard to read; we annotate a corpus of sarcastic tweets.",
            "A shared task on aspect sentiment in restaurant and laptop reviews.",
        ]),
    119: dict(
        **_post(119),
        keybert=["crowdsourcing", "crowdsourced", "annotators", "crowds", "annotation", "algorithms", "aggregation",
                 "crowd", "annotator"],
        documents=[
            "Crowdsourcing platforms collect labels for training data from many workers at low cost.",
            "Aggregation of crowdsourced labels: estimating the skill of each worker and the true label.",
            "Noisy annotations from crowd workers degrade the accuracy of the trained classifier.",
            "We study how to pay crowd workers so that the labeling of data stays accurate.",
            "Active learning chooses which items the annotators label next in a crowdsourced data set.",
            "Disagreement among annotators carries information; we model it instead of a single label.",
            "Quality control for crowdsourcing: gold questions catch workers who label at random.",
            "Crowdsourced labeling of medical images by non-experts compared with labels from doctors.",
        ]),
}
