"""Code of docs/using-transformers/model.md: the base model and its hidden states."""

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
from transformers import AutoModel

model = AutoModel.from_pretrained(checkpoint)
# --8<-- [end:load]

# --8<-- [start:hidden-states]
outputs = model(**inputs)
print(outputs.last_hidden_state.shape)
# --8<-- [end:hidden-states]

# --8<-- [start:access]
print(list(outputs.keys()))
print(outputs["last_hidden_state"].shape)
print(outputs[0].shape)
# --8<-- [end:access]

# --8<-- [start:try-it]
for sentence in raw_inputs:
    alone = tokenizer(sentence, return_tensors="pt")
    print(model(**alone).last_hidden_state.shape)
# --8<-- [end:try-it]
