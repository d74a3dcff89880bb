"""AI vocabulary as dense features for the "is AI" stage.

The n-gram model alone learns the *style* of its training sources (terse ranking rows versus
AI-list descriptions) rather than AI vocabulary, and so calls plain software AI. These groups of
terms are domain knowledge: strong terms almost only occur in AI repositories (llm, pytorch,
neural, diffusion), weak ones often do but also occur elsewhere (agent, vision, detection,
prediction). Each group becomes one feature (log of 1 + hits), so the model learns how much a
strong or a weak hit counts, and the absence of every term counts too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

# Matched against lower-cased text whose identifiers were already split ("AutoGPT" → "auto gpt").
AI_TERMS: dict[str, tuple[str, ...]] = {
    "llm": (
        r"llms?", r"gpts?(?:[- ]?\d\w*)?", r"chat ?gpt", r"openai", r"anthropic", r"claude",
        r"gemini", r"copilot", r"codex", r"ollama", r"deepseek\w*", r"qwen\w*", r"llama\w*",
        r"mistral", r"mixtral", r"vicuna", r"alpaca", r"chatglm\w*", r"large language models?",
        r"language models?", r"foundation models?", r"langchain", r"llama ?index",
        r"hugging ?face", r"vllm", r"gguf", r"ggml", r"prompt engineering", r"rag",
        r"retrieval[- ]augmented", r"chatbots?", r"agentic", r"ai agents?", r"mcp",
        r"model context protocol", r"vibe coding", r"coding agents?",
    ),
    "ml": (
        r"neural(?: networks?| nets?)?", r"deep[- ]?learning", r"machine[- ]?learning",
        r"reinforcement learning", r"pytorch", r"tensorflow", r"keras", r"jax", r"onnx",
        r"paddle\w*", r"mxnet", r"caffe\d?", r"scikit[- ]learn", r"sklearn", r"xgboost",
        r"lightgbm", r"catboost", r"automl", r"mlops", r"llmops", r"ml", r"nlp",
        r"natural language processing", r"computer vision", r"transformers?", r"bert",
        r"cnns?", r"rnns?", r"lstm", r"gans?", r"convolutional", r"backprop\w*", r"autograd",
        r"automatic differentiation", r"autodiff",
        r"fine[- ]?tun(?:e|es|ed|ing)\s+(?:llms?|models?)",
        r"lora", r"qlora", r"quantiz\w*", r"pre[- ]?train\w*", r"embeddings?",
        r"vector (?:database|db|search|store)", r"kaggle", r"data science", r"yolo\w*",
        r"\w+2vec", r"graph neural", r"gnns?", r"self[- ]supervised", r"unsupervised",
        r"supervised learning", r"few[- ]shot", r"zero[- ]shot", r"mlx",
    ),
    "genai": (
        r"generative", r"diffusion", r"stable[- ]diffusion", r"comfy ?ui",
        r"text[- ]to[- ](?:image|speech|video|3d)", r"speech[- ]to[- ]text", r"image generation",
        r"video generation", r"tts", r"asr", r"speech recognition", r"speech synthesis",
        r"voice cloning", r"whisper", r"deepfakes?", r"face ?swap\w*", r"talking (?:head|face)",
        r"multi[- ]?modal", r"midjourney", r"sora", r"dall[- ]?e",
    ),
    "ai_word": (r"ai", r"a\.i\.", r"aigc", r"agi", r"genai", r"artificial intelligence"),
    # AI as one feature of a product that is about something else (labelled "other")
    "ai_feature": (
        r"ai[- ]powered", r"with ai", r"ai[- ](?:native|friendly|first|ready|enabled)",
        r"ai (?:gateway|apps?|features?|integration)", r"and ai",
    ),
    "task": (
        r"agents?", r"vision", r"detection", r"detectors?", r"recogni[sz]\w*", r"predict\w*",
        r"classif\w*", r"segmentation", r"inference", r"ocr", r"translat\w*",
        r"summari[sz]\w*", r"recommend\w*", r"denois\w*", r"super[- ]resolution",
        r"pose estimation", r"gpus?", r"cuda", r"speech", r"voice", r"autonomous",
        r"robot\w*", r"self[- ]driving", r"symbolic regression", r"chat", r"assistant",
        r"prompts?", r"tensors?", r"cursor", r"retrieval",
        r"image (?:processing|restoration|retrieval)",
    ),
    "generic": (
        r"models?", r"training", r"trained", r"datasets?", r"learning", r"intelligen\w*",
        r"smart", r"semantic", r"knowledge graph", r"benchmarks?", r"weights", r"checkpoints?",
        r"bayesian", r"regression", r"clustering", r"algorithms?", r"papers?", r"cognitive",
    ),
}

_PATTERNS = {
    group: re.compile(r"(?<![\w])(?:" + "|".join(terms) + r")(?![\w])")
    for group, terms in AI_TERMS.items()
}
GROUPS: tuple[str, ...] = tuple(AI_TERMS)
STRONG_GROUPS: tuple[str, ...] = ("llm", "ml", "genai", "ai_word")


def term_counts(text: str) -> np.ndarray:
    """Distinct terms of each group (in GROUPS order) found in ``text``."""
    lowered = text.lower()
    return np.array([len(set(_PATTERNS[group].findall(lowered))) for group in GROUPS],
                    dtype=float)


def lexicon_features(texts: Iterable[str]) -> np.ndarray:
    """An (n, len(GROUPS) + 1) array: log(1 + distinct terms) per group, then 1 when no term
    of a strong group was found."""
    counts = np.array([term_counts(str(text)) for text in texts], dtype=float)
    counts = counts.reshape(-1, len(GROUPS))
    strong = counts[:, [GROUPS.index(group) for group in STRONG_GROUPS]].sum(axis=1)
    return np.column_stack([np.log1p(counts), (strong == 0).astype(float)])
