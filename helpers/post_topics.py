"""The reference post's own result: the six topics it prints (its three largest and three smallest of the
117,592 arXiv ML abstracts), each with its size, its c-TF-IDF keywords and the label Llama-2-13b-chat gave it,
as the post's tables print them (``shared/seed/``). Notebook 03 shows them beside what this run's model says.
"""

POST_TOPICS = (
    dict(topic=0, count=10339, llama2="Reinforcement Learning Agent Control",
         keywords=["policy", "reinforcement", "rl", "agent", "learning", "control", "agents", "to", "reward", "in"]),
    dict(topic=1, count=3592, llama2="Privacy-Preserving Machine Learning: Federated Learning",
         keywords=["privacy", "federated", "fl", "private", "clients", "data", "learning", "communication", "local",
                   "client"]),
    dict(topic=2, count=3532, llama2="Speech Recognition and Audio-Visual Processing",
         keywords=["speech", "audio", "speaker", "music", "asr", "acoustic", "recognition", "voice", "the", "model"]),
    dict(topic=117, count=160, llama2="Design Automation for Analog Circuits using Reinforcement Learning",
         keywords=["design", "circuit", "circuits", "synthesis", "chip", "designs", "power", "hardware", "placement",
                   "hls"]),
    dict(topic=118, count=159, llama2="Multilingual Aspect-Based Sentiment Analysis",
         keywords=["sentiment", "aspect", "analysis", "polarity", "reviews", "opinion", "text", "task", "twitter",
                   "language"]),
    dict(topic=119, count=159, llama2="Crowdsourced Data Labeling",
         keywords=["crowdsourcing", "workers", "crowd", "worker", "crowdsourced", "labels", "annotators", "annotations",
                   "label", "labeling"]),
)
