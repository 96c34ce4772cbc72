"""Code of docs/using-transformers/model-heads.md: the same checkpoint with a classification head."""

# --8<-- [start:setup]
from transformers import AutoTokenizer

checkpoint = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
raw_inputs = [
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
]
inputs = tokenizer(raw_inputs, padding=True, truncation=True, return_tensors="pt")
# --8<-- [end:setup]

# --8<-- [start:load]
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained(checkpoint)
print(type(model).__name__)
# --8<-- [end:load]

# --8<-- [start:head]
print(model.pre_classifier)
print(model.classifier)
# --8<-- [end:head]

# --8<-- [start:logits-shape]
outputs = model(**inputs)
print(outputs.logits.shape)
# --8<-- [end:logits-shape]

# --8<-- [start:try-it]
head_layers = (model.pre_classifier, model.classifier)
head_size = sum(parameter.numel() for layer in head_layers for parameter in layer.parameters())
print(f"head: {head_size:,} of {model.num_parameters():,} parameters")
# --8<-- [end:try-it]
