"""Hand-labelled check of `score_text`: per-behaviour accuracy/F1 (with and without sentence
embeddings), empathic-vs-cold pair accuracy per language, and throughput.

The sentences were written for this benchmark (not copied from the lexicons); each is labelled with
one behaviour and whether it shows it (1) or not (0, including look-alike negatives). A behaviour
counts as detected when its score is >= 0.5.

Development pairs, where changes are tried first, in four rounds, each written later than the one
before by an author who read neither the lexicons nor any other pair set: dev_pairs_<lang>.jsonl (30
per language), dev2_pairs_<lang>.jsonl (40, half peer support), dev3_pairs_<lang>.jsonl (40, less common
situations, half of the empathic replies without stock phrases) and dev4_pairs_<lang>.jsonl (40, some long
cold replies), then dev5_pairs_zh.jsonl (60, Mandarin only, mostly formulaic call-centre cold replies).
Each set was scored untouched before any change was made for it.
The held-out pair sets benchmarks/data/empathy_pairs_<lang>.jsonl ({"context", "empathic", "cold"}
per line, >= 30 per language, written before the lexicons were read) give the main target: the
empathic reply must score strictly higher than the cold one (ties fail) in >= 90 % of pairs.

    .venv/bin/python benchmarks/score_text_eval.py [--json out.json] [--n 3000] [--show-failures]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from voicecx.config import LanguageConfig
from voicecx.language import score_texts

DATA = Path(__file__).resolve().parent / "data"
LANGS = ("en", "zh", "ko", "da")
DEV_SETS = ("dev_pairs", "dev2_pairs", "dev3_pairs", "dev4_pairs", "dev5_pairs")  # dev5: Mandarin only

# (language, behaviour, label, text)
ITEMS = [
    ("en", "apology", 1, "Oh no, I'm terribly sorry you had to deal with that."),
    ("en", "apology", 1, "I apologise, that should never have happened."),
    ("en", "apology", 0, "The shop is sorry to announce it closes early on Sunday."),
    ("en", "apology", 0, "I'm not sorry at all, those are the rules."),
    ("en", "validation", 1, "Being cut off twice in one week would make anyone angry."),
    ("en", "validation", 1, "It makes total sense that you're upset about this."),
    ("en", "validation", 1, "I can only imagine how stressful the last few days were."),
    ("en", "validation", 0, "Your bill is due on the fifth."),
    ("en", "validation", 0, "There's no reason to get so worked up about it."),
    ("en", "ownership", 1, "I'll personally make sure the engineer comes out."),
    ("en", "ownership", 0, "You'll need to contact the warranty team for that."),
    ("en", "ownership", 0, "That isn't really my area, try the shop."),
    ("en", "timeframe", 1, "The new router will be with you within two working days."),
    ("en", "timeframe", 0, "Someone will probably sort it out eventually."),
    ("en", "restating", 1, "Just to make sure I follow: the parcel was marked delivered but never arrived?"),
    ("en", "restating", 0, "The parcel was delivered at noon."),
    ("en", "action_now", 1, "I'm cancelling the duplicate order as we speak."),
    ("en", "action_now", 0, "Your case will be reviewed by the relevant team."),
    ("en", "anything_else", 1, "Is there anything more I can do for you today?"),
    ("en", "anything_else", 0, "Is your address still the same?"),
    ("zh", "apology", 1, "真是对不起，让您久等了。"),
    ("zh", "apology", 1, "给您带来这么多麻烦，实在抱歉。"),
    ("zh", "apology", 0, "我们的营业时间是早上九点到晚上六点。"),
    ("zh", "validation", 1, "遇到这种事，谁都会着急的，我完全理解。"),
    ("zh", "validation", 1, "换做是我，我也会很生气。"),
    ("zh", "validation", 0, "您的套餐包含十个G的流量。"),
    ("zh", "validation", 0, "您别激动，这没什么大不了的。"),
    ("zh", "ownership", 1, "这个问题交给我，我负责帮您解决。"),
    ("zh", "ownership", 0, "这个不归我们管，您去找售后吧。"),
    ("zh", "timeframe", 1, "退款会在五个工作日内到账。"),
    ("zh", "timeframe", 0, "等一段时间再说吧。"),
    ("zh", "action_now", 1, "我现在就帮您提交退款申请。"),
    ("ko", "apology", 1, "불편을 드려서 정말 죄송해요."),
    ("ko", "apology", 1, "진심으로 사과드립니다."),
    ("ko", "apology", 0, "요금은 매달 오일에 청구됩니다."),
    ("ko", "apology", 0, "저는 죄송하지 않습니다."),
    ("ko", "validation", 1, "그런 일을 겪으셨으면 많이 속상하셨겠어요."),
    ("ko", "validation", 1, "고객님 마음 충분히 이해합니다."),
    ("ko", "validation", 0, "진정하세요, 별일 아니에요."),
    ("ko", "ownership", 1, "제가 책임지고 끝까지 처리해 드리겠습니다."),
    ("ko", "ownership", 0, "그건 저희 담당이 아니라서 다른 부서에 문의하셔야 해요."),
    ("ko", "timeframe", 1, "이틀 이내에 환불해 드리겠습니다."),
    ("ko", "timeframe", 0, "언젠가 처리될 거예요."),
    ("ko", "action_now", 1, "지금 바로 조회해 드리겠습니다."),
    ("da", "apology", 1, "Undskyld, det må have været træls at vente så længe."),
    ("da", "apology", 1, "Det beklager jeg virkelig."),
    ("da", "apology", 0, "Regningen sendes den første i måneden."),
    ("da", "apology", 0, "Det beklager jeg ikke, sådan er reglerne."),
    ("da", "validation", 1, "Det kan jeg godt forstå at du er irriteret over."),
    ("da", "validation", 1, "Det lyder virkelig frustrerende."),
    ("da", "validation", 0, "Slap nu af, det er ikke så slemt."),
    ("da", "ownership", 1, "Det tager jeg mig af, så du ikke skal tænke mere på det."),
    ("da", "ownership", 0, "Det er ikke min afdeling, du skal ringe til kundeservice."),
    ("da", "timeframe", 1, "Du har pengene inden for to hverdage."),
    ("da", "timeframe", 0, "Det bliver ordnet på et tidspunkt."),
    ("da", "action_now", 1, "Jeg sender dig en ny faktura lige nu."),
]

# (language, empathic reply, cold reply, customer context)
PAIRS = [
    ("en", "I'm so sorry, I can see how annoying it is to be billed twice. I'm fixing it now.", "That's how the system works.", "You billed me twice!"),
    ("en", "That sounds exhausting, let me sort it out for you right away.", "Calm down, it's just a router.", "My internet has been down all week and I'm fed up."),
    ("en", "I completely understand, I'll make sure you get a call back by 5pm.", "Not my problem, call the engineers.", "Nobody ever calls me back."),
    ("en", "I'm really sorry for the mix-up, I'll refund the difference today.", "Sorry if you feel that way.", "You overcharged me again."),
    ("en", "Thanks so much for your patience, I know waiting is frustrating.", "Hold on.", "I've been on hold for forty minutes."),
    ("zh", "非常抱歉，我完全理解您的心情，我马上帮您处理。", "您冷静一点。", "你们又多扣了我的钱！"),
    ("zh", "换作是我也会着急的，我现在就帮您查。", "这不归我管，您去找别人。", "我的快递一直没到。"),
    ("zh", "实在不好意思，退款会在三个工作日内到账。", "规定就是这样。", "我要退款。"),
    ("ko", "정말 죄송합니다. 많이 답답하셨겠어요. 지금 바로 확인해 드리겠습니다.", "진정하세요.", "요금이 또 두 번 청구됐어요!"),
    ("ko", "고객님 마음 충분히 이해합니다. 제가 책임지고 처리해 드릴게요.", "그건 저희 부서 담당이 아니에요.", "아무도 해결을 안 해줘요."),
    ("ko", "불편을 드려 죄송합니다. 이틀 이내에 환불해 드리겠습니다.", "어쩔 수 없어요.", "환불해 주세요."),
    ("da", "Det er jeg virkelig ked af, det forstår jeg godt. Jeg kigger på det nu.", "Slap nu af.", "I har trukket mig to gange!"),
    ("da", "Det lyder frustrerende, det tager jeg mig af.", "Det er ikke min afdeling.", "Ingen hjælper mig."),
    ("da", "Undskyld ventetiden, du får pengene inden for tre hverdage.", "Det er bare sådan det er.", "Jeg vil have mine penge tilbage."),
]


def evaluate(use_embeddings: bool) -> dict:
    cfg = LanguageConfig(use_embeddings=use_embeddings)
    scores = score_texts([(t, None) for _, _, _, t in ITEMS], config=cfg)
    per: dict[str, dict[str, int]] = {}
    for (lang, b, label, _), s in zip(ITEMS, scores):
        pred = int(s.behaviours.get(b, 0.0) >= 0.5)
        c = per.setdefault(b, {"tp": 0, "fp": 0, "tn": 0, "fn": 0})
        c[("t" if pred == label else "f") + ("p" if pred else "n")] += 1
    table = {}
    for b, c in sorted(per.items()):
        n = sum(c.values())
        prec = c["tp"] / max(1, c["tp"] + c["fp"])
        rec = c["tp"] / max(1, c["tp"] + c["fn"])
        table[b] = {"n": n, "accuracy": (c["tp"] + c["tn"]) / n, "f1": 2 * prec * rec / max(1e-9, prec + rec)}
    pair_scores = score_texts([x for _, g, c, ctx in PAIRS for x in ((g, ctx), (c, ctx))], config=cfg)
    pairs: dict[str, list[int]] = {}
    for k, (lang, *_rest) in enumerate(PAIRS):
        pairs.setdefault(lang, []).append(int(pair_scores[2 * k].empathy > pair_scores[2 * k + 1].empathy))
    texts = [(t, None) for _, _, _, t in ITEMS] * 20
    score_texts(texts[:50], config=cfg)  # warm-up (lexicon compile, model load)
    t0 = time.perf_counter()
    score_texts(texts, config=cfg)
    rate = len(texts) / (time.perf_counter() - t0)
    return {"behaviours": table, "pair_accuracy": {k: sum(v) / len(v) for k, v in pairs.items()},
            "pairs_n": {k: len(v) for k, v in pairs.items()}, "utterances_per_s": rate}


def load_pairs(lang: str, prefix: str = "empathy_pairs") -> list[dict[str, str]]:
    """The empathic/cold pairs of one language: held-out (empathy_pairs_<lang>.jsonl) or development
    (dev_pairs_<lang>.jsonl, the set lexicon changes are tried on first)."""
    path = DATA / f"{prefix}_{lang}.jsonl"
    pairs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for k, p in enumerate(pairs, 1):
        if not all(isinstance(p.get(f), str) and p[f].strip() for f in ("context", "empathic", "cold")):
            raise ValueError(f"{path}:{k}: needs non-empty 'context', 'empathic' and 'cold' strings")
    return pairs


def pair_results(lang: str, cfg: LanguageConfig, prefix: str = "empathy_pairs") -> dict:
    """Pair accuracy (empathic > cold, ties fail), mean gap and the failing pairs of one language."""
    pairs = load_pairs(lang, prefix)
    items = [x for p in pairs for x in ((p["empathic"], p["context"]), (p["cold"], p["context"]))]
    scores = score_texts(items, language=lang, config=cfg)
    rows = []
    for k, p in enumerate(pairs):
        e, c = scores[2 * k].empathy, scores[2 * k + 1].empathy
        rows.append({"line": k + 1, "empathic_score": e, "cold_score": c,
                     "ok": e is not None and c is not None and e > c, "context": p["context"]})
    gaps = [r["empathic_score"] - r["cold_score"] for r in rows if r["empathic_score"] is not None and r["cold_score"] is not None]
    return {"n": len(rows), "accuracy": sum(r["ok"] for r in rows) / len(rows),
            "mean_gap": sum(gaps) / max(1, len(gaps)),
            "mean_empathic": sum(r["empathic_score"] or 0.0 for r in rows) / len(rows),
            "mean_cold": sum(r["cold_score"] or 0.0 for r in rows) / len(rows),
            "failures": [r for r in rows if not r["ok"]]}


def throughput(cfg: LanguageConfig, n: int) -> float:
    """Utterances/s of score_texts over n replies cycled from all four pair files (with their context)."""
    pool = [x for lang in LANGS for p in load_pairs(lang) for x in ((p["empathic"], p["context"]), (p["cold"], p["context"]))]
    items = [pool[i % len(pool)] for i in range(n)]
    score_texts(pool[:: max(1, len(pool) // 50)], config=cfg)  # warm-up of every language (lexicon compile, model load)
    t0 = time.perf_counter()
    score_texts(items, config=cfg)
    return n / (time.perf_counter() - t0)


def held_out(n: int) -> dict:
    """Per language and mode: pair accuracy, mean gap, failures; plus throughput per mode."""
    out = {}
    for mode, emb in (("lexicon", False), ("lexicon+embeddings", True)):
        cfg = LanguageConfig(use_embeddings=emb)
        out[mode] = {"languages": {lang: pair_results(lang, cfg) for lang in LANGS},
                     "development": {prefix: {lang: pair_results(lang, cfg, prefix)["accuracy"] for lang in LANGS
                                              if (DATA / f"{prefix}_{lang}.jsonl").exists()}
                                     for prefix in DEV_SETS},
                     "utterances_per_s": throughput(cfg, n), "n_utterances": n}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument("--n", type=int, default=3000, help="replies timed for throughput on the held-out pairs")
    ap.add_argument("--show-failures", action="store_true", help="list the failing held-out pairs")
    args = ap.parse_args()
    res = {"lexicon": evaluate(False), "lexicon+embeddings": evaluate(True)}
    print(f"{len(ITEMS)} labelled sentences ({', '.join(f'{l}: {sum(1 for x in ITEMS if x[0] == l)}' for l in ('en', 'zh', 'ko', 'da'))}), {len(PAIRS)} pairs")
    print(f"{'behaviour':14s} {'n':>3s}  {'acc lex':>7s} {'F1 lex':>7s}  {'acc +emb':>8s} {'F1 +emb':>8s}")
    for b, r in res["lexicon"]["behaviours"].items():
        e = res["lexicon+embeddings"]["behaviours"][b]
        print(f"{b:14s} {r['n']:3d}  {r['accuracy']:7.2f} {r['f1']:7.2f}  {e['accuracy']:8.2f} {e['f1']:8.2f}")
    for mode, r in res.items():
        pa = ", ".join(f"{k} {v:.2f} (n={r['pairs_n'][k]})" for k, v in r["pair_accuracy"].items())
        print(f"{mode:20s} pair accuracy: {pa}; {r['utterances_per_s']:.0f} utterances/s")
    ho = held_out(args.n)
    res["held_out_pairs"] = ho
    print(f"\nheld-out pairs (benchmarks/data/empathy_pairs_*.jsonl; empathic > cold, ties fail; target >= 0.90)")
    print(f"{'lang':4s} {'n':>3s}  {'acc lex':>7s} {'gap lex':>7s} {'emp/cold lex':>12s}  {'acc +emb':>8s} {'gap +emb':>8s} {'emp/cold +emb':>13s}")
    for lang in LANGS:
        a, b = ho["lexicon"]["languages"][lang], ho["lexicon+embeddings"]["languages"][lang]
        print(f"{lang:4s} {a['n']:3d}  {a['accuracy']:7.2f} {a['mean_gap']:7.2f} {a['mean_empathic']:5.2f}/{a['mean_cold']:.2f}"
              f"  {b['accuracy']:8.2f} {b['mean_gap']:8.2f} {b['mean_empathic']:6.2f}/{b['mean_cold']:.2f}")
    for mode, r in ho.items():
        print(f"{mode:20s} {r['utterances_per_s']:.0f} utterances/s over {r['n_utterances']} held-out replies")
    for mode, r in ho.items():
        for prefix, accs in r["development"].items():
            dev = ", ".join(f"{k} {v:.2f}" for k, v in accs.items())
            print(f"{mode:20s} development pairs {prefix}_*.jsonl: {dev}")
    if args.show_failures:
        for mode, r in ho.items():
            for lang, lr in r["languages"].items():
                for f in lr["failures"]:
                    print(f"FAIL {mode} {lang} line {f['line']}: empathic {f['empathic_score']:.3f} <= cold {f['cold_score']:.3f}  ({f['context'][:50]})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
