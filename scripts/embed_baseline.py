#!/usr/bin/env python3
"""Python reference for `faceflash-batch embed`, on the same ONNX models.

  embed_baseline.py crops --models DIR RAW...
      RAW files hold aligned 112x112 RGB crops (37,632 bytes each); prints their SFace
      embeddings (L2-normalised) as JSON. Needs numpy + onnxruntime only. The tests compare
      these with the Rust embeddings of the same crops.

  embed_baseline.py photos --models DIR [--threads N] [--batch 32] PATH...
      The whole pipeline as a Python user would write it with OpenCV and onnxruntime:
      decode (EXIF orientation), scale the longer side to 640, YuNet (BGR, padded to 32),
      decode + NMS 0.3, 5-point similarity transform to the ArcFace template, warpAffine,
      SFace in batches. Prints one JSON line: images, faces, seconds, images_per_second.
      The throughput baseline of `bench embed` (needs opencv-python-headless: make peers).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def embed_crops(sface, crops):
    """crops: (n, 112, 112, 3) uint8 RGB -> (n, 128) float32, L2-normalised."""
    x = np.ascontiguousarray(crops.transpose(0, 3, 1, 2).astype(np.float32))
    out = sface.run(None, {sface.get_inputs()[0].name: x})[0]
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def cmd_crops(args):
    sface = session(Path(args.models) / "sface.onnx", 1)
    crops = np.stack([np.frombuffer(Path(p).read_bytes(), dtype=np.uint8).reshape(112, 112, 3) for p in args.raw])
    json.dump(embed_crops(sface, crops).tolist(), sys.stdout)


def similarity(points):
    p, q = points.astype(np.float64), TEMPLATE
    pm, qm = p.mean(0), q.mean(0)
    a, b = p - pm, q - qm
    norm = (a * a).sum()
    alpha = (a * b).sum() / norm
    beta = (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum() / norm
    m = np.array([[alpha, -beta, 0.0], [beta, alpha, 0.0]])
    m[:, 2] = qm - m[:, :2] @ pm
    return m


def detect(yunet, img, cv2, min_score=0.6, side=640):
    h, w = img.shape[:2]
    scale = min(1.0, side / max(w, h))
    rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR) if (rw, rh) != (w, h) else img
    pw, ph = -(-rw // 32) * 32, -(-rh // 32) * 32
    blob = np.zeros((1, 3, ph, pw), np.float32)
    blob[0, :, :rh, :rw] = small.transpose(2, 0, 1)  # BGR planes
    outs = dict(zip([o.name for o in yunet.get_outputs()], yunet.run(None, {"input": blob})))
    boxes, scores, kps = [], [], []
    for s in (8, 16, 32):
        cols = pw // s
        cls, obj = outs[f"cls_{s}"][0, :, 0], outs[f"obj_{s}"][0, :, 0]
        score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
        keep = np.nonzero(score >= min_score)[0]
        if keep.size == 0:
            continue
        c, r = (keep % cols).astype(np.float32), (keep // cols).astype(np.float32)
        b, k = outs[f"bbox_{s}"][0, keep], outs[f"kps_{s}"][0, keep]
        cx, cy = (c + b[:, 0]) * s, (r + b[:, 1]) * s
        bw, bh = np.exp(b[:, 2]) * s, np.exp(b[:, 3]) * s
        boxes.append(np.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1))
        scores.append(score[keep])
        lm = k.reshape(-1, 5, 2).copy()
        lm[:, :, 0] = (lm[:, :, 0] + c[:, None]) * s
        lm[:, :, 1] = (lm[:, :, 1] + r[:, None]) * s
        kps.append(lm)
    if not boxes:
        return []
    boxes, scores, kps = np.concatenate(boxes), np.concatenate(scores), np.concatenate(kps)
    keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), min_score, 0.3)
    return [(boxes[i] / scale, kps[i] / scale) for i in np.array(keep).reshape(-1)]


def cmd_photos(args):
    import cv2

    cv2.setNumThreads(args.threads)
    models = Path(args.models)
    yunet, sface = session(models / "yunet.onnx", args.threads), session(models / "sface.onnx", args.threads)
    paths = []
    for p in map(Path, args.paths):
        paths.extend(sorted(q for q in p.rglob("*") if q.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}) if p.is_dir() else [p])
    start = time.perf_counter()
    faces, pending = 0, []
    for path in paths:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            continue
        rgb = None
        for box, lm in detect(yunet, img, cv2):
            if min(box[2], box[3]) < 40:
                continue
            rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if rgb is None else rgb
            pending.append(cv2.warpAffine(rgb, similarity(lm), (112, 112), flags=cv2.INTER_LINEAR))
            if len(pending) == args.batch:
                faces += len(embed_crops(sface, np.stack(pending)))
                pending = []
    if pending:
        faces += len(embed_crops(sface, np.stack(pending)))
    seconds = time.perf_counter() - start
    print(json.dumps({"images": len(paths), "faces": faces, "seconds": seconds, "images_per_second": len(paths) / seconds}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("crops")
    c.add_argument("--models", default="models")
    c.add_argument("raw", nargs="+")
    p = sub.add_parser("photos")
    p.add_argument("--models", default="models")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("paths", nargs="+")
    args = parser.parse_args()
    {"crops": cmd_crops, "photos": cmd_photos}[args.command](args)


if __name__ == "__main__":
    main()
