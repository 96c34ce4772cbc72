"""Code of docs/transformer-models/architectures-and-checkpoints.md: one architecture, with and without a checkpoint."""

# --8<-- [start:config]
from transformers import AutoConfig

checkpoint = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
config = AutoConfig.from_pretrained(checkpoint)
print(config.model_type, config.n_layers, config.n_heads, config.dim)
# --8<-- [end:config]

# --8<-- [start:architecture-only]
from transformers import AutoModel

untrained = AutoModel.from_config(config)
print(type(untrained).__name__, f"{untrained.num_parameters():,} parameters")
# --8<-- [end:architecture-only]

# --8<-- [start:with-checkpoint]
trained, loading_info = AutoModel.from_pretrained(checkpoint, output_loading_info=True)
print(type(trained).__name__, f"{trained.num_parameters():,} parameters")
print("missing:", sorted(loading_info["missing_keys"]))
print("unexpected:", sorted(loading_info["unexpected_keys"]))
# --8<-- [end:with-checkpoint]

# --8<-- [start:compare]
import torch

before = untrained.embeddings.word_embeddings.weight
after = trained.embeddings.word_embeddings.weight
print(before.shape, after.shape)
print(torch.equal(before, after))
# --8<-- [end:compare]

# --8<-- [start:try-it]
smaller_config = AutoConfig.from_pretrained(checkpoint, n_layers=3)
smaller = AutoModel.from_config(smaller_config)
print(len(smaller.transformer.layer), f"{smaller.num_parameters():,} parameters")
# --8<-- [end:try-it]
