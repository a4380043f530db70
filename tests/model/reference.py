"""Plain reference implementations, written the slow and obvious way, as the release does it."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _adaptive_pool(tokens, target):
    return F.adaptive_avg_pool1d(tokens.float().T.unsqueeze(0), target).squeeze(0).T


def _disjoint_pool(tokens, target):
    """Token r (of n) in window floor(r * target / n) alone; each window the mean of its tokens."""
    n = tokens.shape[0]
    windows = [[] for _ in range(target)]
    for r in range(n):
        windows[r * target // n].append(tokens[r].float())
    return torch.stack([torch.stack(window).mean(dim=0) for window in windows])


def reference_compress(hidden, mask, ratio, threshold=80, padding_side="left", keep_ends=0, disjoint=False):
    """Sample by sample: take the valid tokens, F.adaptive_avg_pool1d them (those between the kept ends, when
    the sample is compressed; ``disjoint``: each token in one window), re-pad with zeros."""
    _pool = _disjoint_pool if disjoint else _adaptive_pool
    pooled = []
    for row, row_mask in zip(hidden, mask.bool()):
        tokens = row[row_mask]  # (n, D)
        n = tokens.shape[0]
        target = n if n <= threshold else int(threshold + (n - threshold) * ratio)
        if not n:
            out = tokens.float()
        elif keep_ends and target < n:
            e = keep_ends
            out = torch.cat([tokens[:e].float(), _pool(tokens[e : n - e], target - 2 * e), tokens[n - e :].float()])
        else:
            out = _pool(tokens, target)
        pooled.append(out.to(hidden.dtype))
    longest = max(p.shape[0] for p in pooled)
    out = hidden.new_zeros(hidden.shape[0], longest, hidden.shape[2])
    out_mask = mask.new_zeros(hidden.shape[0], longest)
    for i, p in enumerate(pooled):
        if padding_side == "left":
            out[i, longest - p.shape[0] :] = p
            out_mask[i, longest - p.shape[0] :] = 1
        else:
            out[i, : p.shape[0]] = p
            out_mask[i, : p.shape[0]] = 1
    return out, out_mask


def reference_release_forward(backbone, mlp_weights, linear_weight, linear_bias, input_ids, mask, ratio):
    """The release's forward, one sample at a time: embed, SwiGLU, pool, Qwen3 layers, mean, linear."""
    outputs = []
    for ids, row_mask in zip(input_ids, mask.bool()):
        ids = ids[row_mask].unsqueeze(0)  # (1, n)
        x = backbone.embed_tokens(ids)
        gate, up, down = mlp_weights
        h = F.linear(F.silu(F.linear(x, gate)) * F.linear(x, up), down)  # (1, n, H)
        n = h.shape[1]
        if n > 80:
            target = int(80 + (n - 80) * ratio)
            h = F.adaptive_avg_pool1d(h.transpose(1, 2), target).transpose(1, 2)
        z = backbone(inputs_embeds=h).last_hidden_state  # (1, t, H)
        outputs.append(F.linear(z.mean(dim=1), linear_weight, linear_bias))
    return torch.cat(outputs)
