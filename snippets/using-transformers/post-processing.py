"""Code of docs/using-transformers/post-processing.md: logits to probabilities to a verdict per sentence."""

# --8<-- [start:setup]
from transformers import AutoModelForSequenceClassification, AutoTokenizer

checkpoint = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
model = AutoModelForSequenceClassification.from_pretrained(checkpoint)
raw_inputs = [
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
]
inputs = tokenizer(raw_inputs, padding=True, truncation=True, return_tensors="pt")
outputs = model(**inputs)
# --8<-- [end:setup]

# --8<-- [start:logits]
print(outputs.logits)
# --8<-- [end:logits]

# --8<-- [start:softmax]
import torch

predictions = torch.nn.functional.softmax(outputs.logits, dim=-1)
print(predictions)
# --8<-- [end:softmax]

# --8<-- [start:id2label]
print(model.config.id2label)
# --8<-- [end:id2label]

# --8<-- [start:verdict]
for number, scores in enumerate(predictions.tolist(), start=1):
    verdict = model.config.id2label[scores.index(max(scores))]
    details = ", ".join(f"{model.config.id2label[i]}: {p:.4f}" for i, p in enumerate(scores))
    print(f"Sentence {number}: {verdict} ({details})")
# --8<-- [end:verdict]

# --8<-- [start:try-it]
print(torch.allclose(predictions.sum(dim=-1), torch.ones(2)))
print(torch.equal(predictions.argmax(dim=-1), outputs.logits.argmax(dim=-1)))
# --8<-- [end:try-it]
