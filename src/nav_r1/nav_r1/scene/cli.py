"""``nav-r1 scene-data`` and ``nav-r1 scene-eval`` (nav_r1.scene, and with it Open3D, loads only when one runs).

    nav-r1 scene-data --out DIR [--scenes 12 --seed 0 ...]          generate the scene dataset
    nav-r1 scene-eval --data DIR --split test --reasoner expert|expert2d|blind --out DIR
    nav-r1 scene-eval --data DIR --reasoner model --backend transformers:/models/3d-r1 --out DIR
    nav-r1 scene-eval ... --view-scorer clip:/models/clip-vit-base-patch32   views chosen per question
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from r1_core.backends import make_backend
from r1_core.params import ParamError

REASONERS = ("expert", "expert2d", "blind", "model")


def scene_data_main(argv: Sequence[str]) -> int:
    """Generate the dataset (see :mod:`nav_r1.scene.data`)."""
    from nav_r1.scene.data import DataConfig, write_dataset

    parser = argparse.ArgumentParser(prog="nav-r1 scene-data", description="Generate the scene understanding data.")
    parser.add_argument("--out", type=Path, required=True, help="Output directory")
    parser.add_argument("--force", action="store_true", help="Replace an existing output directory")
    for name, f in DataConfig.__dataclass_fields__.items():
        spec = f.metadata.get("r1_param")
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(f.default), default=f.default,
                            help=getattr(spec, "description", ""))
    ns = parser.parse_args(list(argv))
    try:
        cfg = DataConfig(**{n: getattr(ns, n) for n in DataConfig.__dataclass_fields__})
    except (ParamError, ValueError) as exc:
        print(f"nav-r1 scene-data: {exc}", file=sys.stderr)
        return 2
    try:
        card = write_dataset(ns.out, cfg, force=ns.force, progress=True)
    except ParamError as exc:
        print(f"nav-r1 scene-data: {exc}", file=sys.stderr)
        return 2
    print(f"nav-r1 scene-data: wrote {ns.out} ({card['seconds']} s): "
          + "; ".join(f"{s}: {sum(c.values())} rows" for s, c in card["counts"].items()))
    return 0


def scene_eval_main(argv: Sequence[str]) -> int:
    """Evaluate a reasoner on a split and write report.json/report.md and pictures."""
    from nav_r1.scene.clip_scorer import VIEW_SCORER_SPECS, make_view_scorer
    from nav_r1.scene.data import read_rows
    from nav_r1.scene.evaluate import SceneStore, evaluate
    from nav_r1.scene.reasoners import BlindReasoner, ExpertReasoner, SceneReasoner, VLMSceneReasoner
    from nav_r1.scene.service import ServiceConfig

    parser = argparse.ArgumentParser(prog="nav-r1 scene-eval", description="Evaluate a scene reasoner.")
    parser.add_argument("--data", type=Path, required=True, help="Dataset directory from nav-r1 scene-data")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--reasoner", default="expert", choices=REASONERS,
                        help="expert: labels (upper bound); expert2d: labels' 2D boxes lifted through depth; "
                             "blind: majority answers of the train split; model: --backend")
    parser.add_argument("--backend", default="", help="With --reasoner model: an r1_core backend spec, "
                        "e.g. transformers:DIR, openai:http://host:8000/v1#model, scripted:replies.txt")
    parser.add_argument("--out", type=Path, required=True, help="Report directory")
    parser.add_argument("--pictures", type=int, default=8, help="Grounding pictures to draw")
    parser.add_argument("--limit", type=int, default=None, help="Evaluate only the first N rows")
    parser.add_argument("--view-scorer", default="", metavar="SPEC",
                        help="Choose each question's views as the robot does, coverage mixed with this scorer's "
                             f"relevance, instead of the row's views; one of {', '.join(VIEW_SCORER_SPECS)}")
    parser.add_argument("--relevance-weight", type=float, default=ServiceConfig.relevance_weight,
                        help="With --view-scorer: weight of relevance against coverage, in [0, 1]")
    ns = parser.parse_args(list(argv))
    try:
        scorer = make_view_scorer(ns.view_scorer)
        store = SceneStore(ns.data)
        reasoner: SceneReasoner
        if ns.reasoner == "blind":
            reasoner = BlindReasoner(read_rows(ns.data, "train"))
        elif ns.reasoner == "model":
            if not ns.backend:
                raise ValueError("--reasoner model needs --backend SPEC")
            reasoner = VLMSceneReasoner(make_backend(ns.backend))
        else:
            reasoner = ExpertReasoner(store.scene, boxes_2d=ns.reasoner == "expert2d")
        report = evaluate(ns.data, ns.split, reasoner, ns.out, ns.pictures, ns.limit, scorer, ns.relevance_weight)
    except (ParamError, ValueError, OSError) as exc:
        print(f"nav-r1 scene-eval: {exc}", file=sys.stderr)
        return 2
    t = report["tasks"]
    print(f"nav-r1 scene-eval: {report['reasoner']} on {report['split']} ({report['rows']} rows): "
          f"grounding Acc@0.25 {t['grounding']['acc@0.25']:.3f} Acc@0.5 {t['grounding']['acc@0.5']:.3f}, "
          f"QA EM {t['qa']['em']:.3f}, caption CIDEr {t['object_caption']['cider']:.3f}, "
          f"dialogue turn acc {t['dialogue']['turn_accuracy']:.3f}; report in {ns.out}")
    return 0


#: What ``nav_r1.cli`` dispatches to.
SCENE_COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "scene-data": scene_data_main, "scene-eval": scene_eval_main}

__all__ = ["REASONERS", "SCENE_COMMANDS", "scene_data_main", "scene_eval_main"]
