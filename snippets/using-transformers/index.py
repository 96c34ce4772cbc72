"""Code of docs/using-transformers/index.md: the sentiment pipeline, the whole chain in one call."""

# --8<-- [start:pipeline]
from transformers import pipeline

classifier = pipeline("sentiment-analysis")
print(classifier("I've been waiting for a HuggingFace course my whole life."))
# --8<-- [end:pipeline]

# --8<-- [start:two-sentences]
print(
    classifier(
        [
            "I've been waiting for a HuggingFace course my whole life.",
            "I hate this so much!",
        ]
    )
)
# --8<-- [end:two-sentences]

# --8<-- [start:try-it]
print(classifier.model.name_or_path)
print(classifier.model.config.id2label)
# --8<-- [end:try-it]
