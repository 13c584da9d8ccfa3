"""The reference post's six printed topics: size, keywords and Llama-2-13b-chat's label each.
Notebook 03 shows them beside this run's labels.
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
