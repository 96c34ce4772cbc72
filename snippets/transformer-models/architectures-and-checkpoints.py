"""Code of docs/transformer-models/architectures-and-checkpoints.md: one architecture, with and without a checkpoint."""

# --8<-- [start:config]
from transformers import AutoConfig

checkpoint = "distilbert-base-uncased-finetuned-sst-2-english"
config = AutoConfig.from_pretrained(checkpoint)
print(config.model_type, config.n_layers, config.n_heads, config.dim)
# --8<-- [end:config]

# --8<-- [start:architecture-only]
from transformers import AutoModel

untrained = AutoModel.from_config(config)
print(type(untrained).__name__)
# --8<-- [end:architecture-only]

# --8<-- [start:with-checkpoint]
trained = AutoModel.from_pretrained(checkpoint)
print(type(trained).__name__)
# --8<-- [end:with-checkpoint]
