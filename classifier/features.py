"""Turning RepoText into the columns the trained model reads, and the vectoriser over them.

Columns: ``text`` (description, split repository and owner names, topics, README excerpt),
``name`` (raw ``name owner`` for character n-grams), ``meta`` (tokens for language, owner,
creation year, topics and the domain-lexicon hits), ``short`` (split names and description only:
the view of the "is AI" stage, which must judge a bare ranking row without topics or README the
same way as a crawled repository), ``vocabulary`` (name, split name and description, the text
the AI-term lexicon counts in; no owner) and ``language`` (lower-cased, empty when unknown).

``label_source`` is never a feature: repositories met in production have none. The creation year
(an agent framework is rarely from 2016, a gradient boosting library rarely from 2024) feeds the
category stage only, which trains on AI rows: the labels files fill dates for some sources only
(the AI-or-not file has none, the seeds neither), so in the "is AI" stage it would learn "has a
date ⇒ AI". A missing language or year gives no token at all: its absence says more about the
source than about the repository. Stars are left out: each source counts them on another date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy.special import logit
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import FunctionTransformer

from classifier.labels import RepoText
from classifier.lexicon import lexicon_features

README_EXCERPT_CHARS = 1500
# The meta tokens (owner, language, year, topics, lexicon hits) at full weight outvote the text:
# at half weight category accuracy goes 0.660 → 0.684 (bench/classify.py, 5-fold; 0.656 → 0.680
# on a second fold split). No one group of them is to blame: dropping any one alone is noise.
META_WEIGHT = 0.5
TEXT, NAME, META, SHORT, VOCABULARY, LANGUAGE = 0, 1, 2, 3, 4, 5
# Pseudo-rows pulling each language's AI share toward the share over all languages
LANGUAGE_SMOOTHING = 20.0

# Phrases an AI engineer reads as strong hints of one category; the model learns their weight.
LEXICON: dict[str, tuple[str, ...]] = {
    "serving": (r"inference (server|engine|serving)", r"serving", r"deploy", r"gateway",
                r"proxy", r"load balanc", r"kubernetes", r"\bgpus?\b.*(cluster|orchestrat)"),
    "vector": (r"vector (database|db|search|store)", r"nearest neighbo", r"\bann\b",
               r"similarity search", r"embeddings? (store|database)"),
    "observe": (r"observability", r"monitoring", r"tracing", r"experiment track", r"\blogg"),
    "finetune": (r"fine-?tun", r"\blora\b", r"\brlhf\b", r"\bsft\b", r"\bdpo\b", r"\bgrpo\b",
                 r"pre-?train", r"training"),
    "optimise": (r"quantiz", r"quantis", r"kernel", r"compiler", r"\bcuda\b", r"low-bit",
                 r"\bint[48]\b", r"sparsit", r"distill"),
    "dataset": (r"dataset", r"data (labell?ing|annotation|generation|cleaning)", r"synthetic data"),
    "model_release": (r"\bofficial (code|implementation|repo)", r"\bweights\b", r"checkpoints?",
                      r"model card", r"we (release|present|introduce)", r"\bbillion\b",
                      r"\b\d+(\.\d+)?b\b", r"technical report"),
    "agent_dev": (r"framework", r"\bsdk\b", r"library", r"toolkit", r"\bmcp\b", r"\brag\b",
                  r"retrieval", r"prompt", r"structured output", r"function call", r"memory"),
    "app": (r"assistant", r"\bapp\b", r"desktop", r"chrome extension", r"\bbot\b",
            r"for (you|everyone|teams)", r"\bself-hosted\b", r"\bui\b", r"client"),
    "teach": (r"course", r"tutorial", r"lessons?", r"book", r"notebooks?", r"roadmap",
              r"interview", r"learn", r"guide", r"from scratch", r"examples"),
    "curated": (r"\bawesome\b", r"curated", r"collection of", r"list of", r"resources"),
    "ai": (r"\bai\b", r"\bllms?\b", r"\bgpt", r"machine learning", r"deep learning", r"neural",
           r"language models?", r"diffusion", r"\bagents?\b", r"chatgpt", r"claude", r"openai",
           r"transformer", r"\bnlp\b", r"computer vision", r"generative", r"pytorch",
           r"tensorflow", r"embedding", r"ollama", r"llama", r"gemini", r"copilot"),
}
_LEXICON_PATTERNS = {
    key: re.compile("|".join(f"(?:{p})" for p in patterns)) for key, patterns in LEXICON.items()
}


def split_identifier(identifier: str) -> str:
    """'AutoGPT-Plugins_v2' → 'auto gpt plugins v2' (camel case, dashes, underscores)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", identifier)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)  # 'GPTNext' → 'GPT Next'
    spaced = re.sub(r"([A-Za-z])(\d)", r"\1 \2", spaced)
    return re.sub(r"[^0-9A-Za-z\u0080-\uffff]+", " ", spaced).strip().lower()


def _lexicon_tokens(text: str) -> list[str]:
    lowered = text.lower()
    return [f"lex_{key}" for key, pattern in _LEXICON_PATTERNS.items() if pattern.search(lowered)]


def _text_column(repo: RepoText) -> str:
    parts = [
        repo.description,
        split_identifier(repo.name),
        split_identifier(repo.owner),
        " ".join(topic.replace("-", " ") for topic in repo.topics),
        repo.readme[:README_EXCERPT_CHARS],
    ]
    return " ".join(part for part in parts if part)


def _meta_column(repo: RepoText, text: str) -> str:
    # No token for a missing language: sources leave it out for unrelated reasons (a snapshot
    # without languages, a labels file that lacks them), so its absence is no evidence.
    tokens = [
        *([f"lang_{repo.language.replace(' ', '_').lower()}"] if repo.language else []),
        f"owner_{repo.owner.lower()}",
        *([f"year_{str(repo.created_at)[:4]}"] if repo.created_at else []),
        *(f"topic_{topic.lower()}" for topic in repo.topics),
        *_lexicon_tokens(text),
    ]
    return " ".join(tokens)


def _short_column(repo: RepoText) -> str:
    return " ".join([split_identifier(repo.name), split_identifier(repo.owner), repo.description])


def _vocabulary_column(repo: RepoText) -> str:
    # The raw name too: splitting breaks terms like 'node2vec'. No owner: 'YerongAI' says nothing.
    return " ".join([repo.name, split_identifier(repo.name), repo.description])


def feature_columns(repos: Sequence[RepoText]) -> np.ndarray:
    """An (n, 6) object array: text, name, meta, short text, vocabulary text and language."""
    rows = []
    for repo in repos:
        text = _text_column(repo)
        rows.append((text, f"{repo.name} {repo.owner}", _meta_column(repo, text),
                     _short_column(repo), _vocabulary_column(repo), repo.language.lower()))
    return np.array(rows, dtype=object).reshape(len(rows), 6)


def language_log_odds(languages: np.ndarray, is_ai: np.ndarray,
                      weights: np.ndarray) -> dict[str, float]:
    """Per known language: the log-odds of AI among its (weighted, smoothed) rows minus that
    among all rows with a known language. Centred so that an unknown language, scored 0, reads
    as "no evidence" and the model cannot learn the presence of a language as a signal."""
    known = languages != ""
    share = np.clip(weights[known & is_ai].sum() / max(weights[known].sum(), 1e-12), 1e-3, 1 - 1e-3)
    odds = {}
    for language in set(languages[known].tolist()):
        rows = languages == language
        own = ((weights[rows & is_ai].sum() + LANGUAGE_SMOOTHING * share)
               / (weights[rows].sum() + LANGUAGE_SMOOTHING))
        odds[language] = float(logit(own) - logit(share))
    return odds


def language_feature(languages: np.ndarray, odds: dict[str, float]) -> np.ndarray:
    """An (n, 1) array: the language's AI log-odds from ``language_log_odds``, 0 if unseen."""
    return np.array([[odds.get(str(language), 0.0)] for language in languages])


def build_vectoriser() -> ColumnTransformer:
    """Word 1–2-grams and character 2–5-grams of the text, name n-grams and (down-weighted)
    meta tokens."""
    return ColumnTransformer(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), TEXT),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                      min_df=2), TEXT),
            ("name", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True),
             NAME),
            ("meta", TfidfVectorizer(token_pattern=r"\S+", lowercase=False), META),
        ],
        sparse_threshold=1.0,
        transformer_weights={"meta": META_WEIGHT},
    )


def build_ai_vectoriser(language_odds: dict[str, float]) -> ColumnTransformer:
    """For the "is AI" stage: word 1–2-grams and character 2–5-grams of the short text, the
    AI-vocabulary counts of classifier.lexicon (dense, so that plain software without any AI
    term is not called AI for sounding like the AI labels) and the language's AI log-odds."""
    return ColumnTransformer(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), SHORT),
            # min_df 5: rarer character n-grams mostly memorise the style of one labels source
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                      min_df=5), SHORT),
            ("lexicon", FunctionTransformer(lexicon_features), VOCABULARY),
            ("language", FunctionTransformer(language_feature, kw_args={"odds": language_odds}),
             LANGUAGE),
        ],
        sparse_threshold=1.0,
    )
