"""Metrics as 3D scene-understanding papers report them.

Grounding Acc@0.25 / Acc@0.5 (3D IoU, ScanRefer), QA exact match (ScanQA / SQA3D), captioning
BLEU-4 and CIDEr (pycocoevalcap's scorers, the maintained reference implementation), dense
captioning CIDEr@0.5IoU (Scan2Cap: a ground-truth object scores its caption's CIDEr only when a
predicted box overlaps it by IoU >= 0.5), dialogue per-turn accuracy, plan exact match and step
accuracy. Tokenisation follows the COCO toolkit's (lower case, punctuation removed) in Python,
because its ``PTBTokenizer`` runs a Java program that a robot or CI machine may not have.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

from nav_r1.scene.boxes import Box3D, iou_3d

# The punctuation PTBTokenizer drops (pycocoevalcap/tokenizer/ptbtokenizer.py PUNCTUATIONS).
_PUNCT = re.compile(r"[\"'`().,:;!?\-{}\[\]_/\\]|''|``|-lrb-|-rrb-|-lsb-|-rsb-|-lcb-|-rcb-")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def tokenize(text: str) -> str:
    """COCO-style tokens joined by spaces: lower case, punctuation removed."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def normalize_answer(text: str) -> str:
    """SQuAD/ScanQA-style normalisation for exact match: tokens without articles."""
    return " ".join(_ARTICLES.sub(" ", tokenize(text)).split())


def exact_match(prediction: str, reference: str) -> bool:
    """True when the normalised answers are equal."""
    return normalize_answer(prediction) == normalize_answer(reference)


def grounding_accuracy(ious: Sequence[float], threshold: float) -> float:
    """Fraction of samples whose IoU reaches ``threshold`` (0 for no samples)."""
    return sum(1 for v in ious if v >= threshold) / len(ious) if ious else 0.0


def caption_scores(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, object]:
    """Corpus BLEU-4 and CIDEr, plus per-sample CIDEr, for captions and their reference lists."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} reference lists")
    if not predictions:
        return {"bleu4": 0.0, "cider": 0.0, "cider_per_sample": []}
    res = {i: [tokenize(p) or "empty"] for i, p in enumerate(predictions)}
    gts = {i: [tokenize(r) for r in refs] or ["empty"] for i, refs in enumerate(references)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    cider, per = Cider().compute_score(gts, res)
    return {"bleu4": float(bleu[3]), "cider": float(cider), "cider_per_sample": [float(v) for v in per]}


def match_boxes(predicted: Sequence[Box3D], truth: Sequence[Box3D], threshold: float) -> list[int | None]:
    """For each ground-truth box, the predicted box matched to it (greedy by IoU, each used once)."""
    pairs = sorted(((iou_3d(p, t), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)), reverse=True)
    out: list[int | None] = [None] * len(truth)
    used: set[int] = set()
    for iou, i, j in pairs:
        if iou < threshold:
            break
        if i not in used and out[j] is None:
            out[j] = i
            used.add(i)
    return out


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence of two step lists."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def split_steps(plan: str) -> list[str]:
    """A plan's steps ("a; b; c" or numbered lines), normalised."""
    parts = re.split(r";|\n|\d+\.\s", plan)
    return [s for s in (normalize_answer(p) for p in parts) if s]


def step_accuracy(prediction: str, reference: str) -> float:
    """Ordered step recall: LCS of predicted and reference steps over the reference's length."""
    ref = split_steps(reference)
    return lcs_length(split_steps(prediction), ref) / len(ref) if ref else 0.0


__all__ = ["caption_scores", "exact_match", "grounding_accuracy", "lcs_length", "match_boxes", "normalize_answer",
           "split_steps", "step_accuracy", "tokenize"]
