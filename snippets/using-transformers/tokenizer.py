"""Code of docs/using-transformers/tokenizer.md: text in, input ids and attention mask out."""

# --8<-- [start:load]
from transformers import AutoTokenizer

checkpoint = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
# --8<-- [end:load]

# --8<-- [start:tokenize]
raw_inputs = [
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
]
inputs = tokenizer(raw_inputs, padding=True, truncation=True, return_tensors="pt")
print(inputs)
# --8<-- [end:tokenize]

# --8<-- [start:tokens]
print(tokenizer.convert_ids_to_tokens(inputs["input_ids"][0]))
# --8<-- [end:tokens]

# --8<-- [start:decode]
print(tokenizer.decode(inputs["input_ids"][0]))
print(tokenizer.decode(inputs["input_ids"][0], clean_up_tokenization_spaces=True))
# --8<-- [end:decode]

# --8<-- [start:try-it]
encoded = tokenizer("Tokenizers chop unfamiliar words like DistilBERT into pieces.")
print(encoded["input_ids"])
print(tokenizer.convert_ids_to_tokens(encoded["input_ids"]))
# --8<-- [end:try-it]
