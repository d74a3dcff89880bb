"""The project's own sample snapshot: plausible, invented repositories across the whole taxonomy.

Nothing here comes from real data: owners, names and descriptions are assembled from word lists
below, so the sample can ship with the project. ``generate_sample`` gives about 75% AI repositories
in every category of taxonomy v1 and 25% popular non-AI ones (including AI-looking false positives
such as GPT partition tools and monitoring agents); ``generate_labelled`` also returns the category
each one was generated for, so tests and demos can score a classifier against it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

from standins.github.snapshot import SnapshotRepo, write_snapshot

T = TypeVar("T")
SAMPLE_AS_OF = date(2026, 8, 30)
LAYERS = {
    "applications": "application",
    "app-development": "application",
    "models": "model",
    "model-development": "model",
    "infrastructure": "infrastructure",
    "tutorials": "none",
    "lists": "none",
    "other": "none",
}


@dataclass(frozen=True)
class Kind:
    """A kind of repository: where it sits in the taxonomy and the words it is made of."""

    category: str
    subcategory: str
    weight: float
    names: tuple[str, ...]
    descriptions: tuple[str, ...]
    topics: tuple[str, ...]
    languages: tuple[str, ...]
    ai: bool = True


@dataclass(frozen=True)
class LabelledRepo:
    repo: SnapshotRepo
    layer: str
    category: str
    subcategory: str


# Slot words used by the description templates ({llm}, {thing}, ...).
SLOTS: dict[str, tuple[str, ...]] = {
    "llm": (
        "LLMs",
        "large language models",
        "GPT-4o",
        "Llama 3",
        "local LLMs",
        "Claude and GPT",
        "open-weight models",
        "any OpenAI-compatible model",
        "Mistral and Qwen",
    ),
    "docs": (
        "PDFs",
        "your documents",
        "Notion pages",
        "codebases",
        "knowledge bases",
        "websites",
        "Markdown notes",
        "internal wikis",
    ),
    "media": ("images", "videos", "photos", "anime art", "3D assets", "avatars"),
    "lang": ("Python", "TypeScript", "Rust", "Go", "JavaScript", "Java"),
    "hw": ("GPUs", "CPUs", "Apple Silicon", "consumer GPUs", "edge devices", "Kubernetes clusters"),
    "web": ("React", "Vue", "Node.js", "Django", "Rails", "Svelte"),
}

_AI_KINDS: tuple[Kind, ...] = (
    # ------------------------------------------------------------------ applications
    Kind(
        "applications",
        "coding",
        5,
        (
            "code-pilot",
            "devmate",
            "autocoder",
            "pair-ai",
            "codewhisper",
            "commit-genie",
            "shell-gpt",
            "review-bot",
            "termai",
        ),
        (
            "AI coding assistant in your terminal, powered by {llm}",
            "An autonomous software engineer that fixes GitHub issues with {llm}",
            "Generate commit messages and code reviews with {llm}",
            "AI pair programmer for VS Code that understands your whole codebase",
        ),
        ("ai", "coding-assistant", "llm", "developer-tools", "code-generation", "copilot"),
        ("TypeScript", "Python", "Rust", "Go"),
    ),
    Kind(
        "applications",
        "bots",
        4,
        (
            "chatbot-desk",
            "discord-gpt",
            "telegram-ai-bot",
            "wechat-assistant",
            "slackgpt",
            "companion-ai",
            "ai-friend",
        ),
        (
            "A Telegram bot that chats with {llm}",
            "ChatGPT for Discord servers, with memory",
            "Your personal AI companion that remembers every conversation",
            "Customer support chatbot answering from {docs} with {llm}",
        ),
        ("chatbot", "chatgpt", "telegram-bot", "discord-bot", "openai", "ai-assistant"),
        ("Python", "TypeScript", "JavaScript", "Go"),
    ),
    Kind(
        "applications",
        "image production",
        4,
        (
            "diffusion-studio",
            "imagine-ui",
            "paintbox-ai",
            "photo-magic",
            "anime-gen",
            "face-swap-live",
            "sd-webui-lite",
            "upscayl-pro",
        ),
        (
            "Generate and edit {media} with Stable Diffusion in the browser",
            "One-click AI face swap for {media}",
            "AI image upscaler and restorer for old {media}",
            "Text-to-image studio with ControlNet, LoRA and inpainting",
        ),
        ("stable-diffusion", "image-generation", "ai-art", "text-to-image", "diffusion"),
        ("Python", "TypeScript", "JavaScript"),
    ),
    Kind(
        "applications",
        "video",
        2,
        ("clipmaker-ai", "video-dub", "shorts-gen", "talking-head", "auto-subtitle"),
        (
            "Turn long videos into viral shorts with AI",
            "Automatic subtitles and translation for any video with Whisper",
            "Generate talking-head videos from a single photo and an audio clip",
        ),
        ("video-generation", "whisper", "text-to-video", "ai-video", "subtitles"),
        ("Python", "TypeScript"),
    ),
    Kind(
        "applications",
        "information aggregation",
        3,
        ("research-agent", "paper-digest", "news-brief", "perplexica-lite", "deep-search"),
        (
            "An AI research assistant that searches the web and writes cited reports",
            "Daily AI summaries of arXiv papers and Hacker News",
            "Open-source answer engine: ask anything, get answers with sources, powered by {llm}",
        ),
        ("search-engine", "research", "llm", "summarization", "perplexity"),
        ("Python", "TypeScript"),
    ),
    Kind(
        "applications",
        "writing",
        2,
        ("ghostwriter", "novel-ai", "translate-gpt", "essay-helper", "polish-text"),
        (
            "AI writing assistant that drafts, rewrites and translates documents with {llm}",
            "Translate books and subtitles with {llm} while keeping the formatting",
            "Write novels with an AI co-author",
        ),
        ("writing", "translation", "llm", "gpt", "productivity"),
        ("Python", "TypeScript", "JavaScript"),
    ),
    Kind(
        "applications",
        "data organisation",
        2,
        ("ai-notes", "second-brain", "smart-photos", "file-sorter-ai", "mind-vault"),
        (
            "Self-hosted photo library with AI search and face recognition",
            "Chat with your notes: a private second brain powered by {llm}",
            "Organise files automatically with local AI models",
        ),
        ("self-hosted", "knowledge-management", "ai", "semantic-search", "notes"),
        ("TypeScript", "Python", "Go"),
    ),
    Kind(
        "applications",
        "workflow automation",
        3,
        ("auto-agent", "browser-pilot", "desktop-agent", "task-runner-ai", "computer-use"),
        (
            "An autonomous AI agent that browses the web and completes tasks for you",
            "Let {llm} control your computer: clicks, typing and screenshots",
            "Automate repetitive office work with AI agents",
        ),
        ("autonomous-agents", "ai-agent", "automation", "browser-automation", "gpt-4"),
        ("Python", "TypeScript"),
    ),
    Kind(
        "applications",
        "education",
        1,
        ("tutor-ai", "lingo-buddy", "quiz-gen", "study-gpt"),
        (
            "A personal AI tutor that adapts lessons to each student",
            "Practise languages by talking with an AI partner",
        ),
        ("education", "llm", "learning", "chatgpt"),
        ("TypeScript", "Python"),
    ),
    # ------------------------------------------------------------------ app development
    Kind(
        "app-development",
        "agents",
        7,
        (
            "agentkit",
            "crew-flow",
            "multi-agent",
            "agent-os",
            "swarm-lite",
            "tool-agents",
            "autogen-lite",
            "agent-sdk",
        ),
        (
            "A framework for building multi-agent systems with {llm}",
            "Build reliable AI agents with tools, memory and planning",
            "Lightweight SDK for orchestrating tool-using agents across {llm}",
            "Open protocol server that connects AI agents to tools and data (MCP)",
        ),
        ("agents", "ai-agents", "multi-agent", "llm", "mcp", "agentic-ai", "tool-calling"),
        ("Python", "TypeScript", "Go"),
    ),
    Kind(
        "app-development",
        "context construction",
        6,
        (
            "ragkit",
            "docqa",
            "retrieval-kit",
            "graph-rag",
            "chunker",
            "context-engine",
            "knowledge-rag",
            "doc-parser",
        ),
        (
            "Retrieval-augmented generation (RAG) framework: chat with {docs} using {llm}",
            "Turn {docs} into LLM-ready Markdown for RAG pipelines",
            "GraphRAG: build knowledge graphs from {docs} and query them with {llm}",
            "Fast document chunking and embedding for retrieval-augmented generation",
        ),
        (
            "rag",
            "retrieval-augmented-generation",
            "llm",
            "embeddings",
            "knowledge-graph",
            "document-parsing",
        ),
        ("Python", "TypeScript", "Rust"),
    ),
    Kind(
        "app-development",
        "prompt engineering",
        4,
        (
            "promptkit",
            "structured-gen",
            "json-llm",
            "prompt-optimizer",
            "guardrails-lite",
            "llm-memory",
            "outline-gen",
        ),
        (
            "Structured outputs from {llm}: typed JSON with Pydantic validation",
            "Prompt optimisation without fine-tuning: compile prompts from examples",
            "Constrained decoding with regular expressions and JSON schemas",
            "Long-term memory layer for AI assistants and agents",
        ),
        ("prompt-engineering", "structured-output", "llm", "json-schema", "memory", "prompts"),
        ("Python", "TypeScript"),
    ),
    Kind(
        "app-development",
        "AI interfaces",
        5,
        (
            "chat-ui",
            "llm-webui",
            "open-chat",
            "gpt-desktop",
            "ai-sidebar",
            "lobe-lite",
            "chatbox-kit",
        ),
        (
            "A self-hosted ChatGPT-style web UI for {llm} with plugins and RAG",
            "Cross-platform desktop client for {llm}",
            "Browser extension that brings {llm} to every web page",
            "Modern chat interface supporting many providers and local models",
        ),
        ("chatgpt", "webui", "llm-ui", "ollama", "openai", "chat-interface", "self-hosted"),
        ("TypeScript", "JavaScript", "Svelte", "Python"),
    ),
    Kind(
        "app-development",
        "application frameworks",
        5,
        ("llm-chain", "ai-sdk", "flowbuilder", "llm-app", "low-code-ai", "semantic-kit"),
        (
            "Build context-aware LLM applications with composable chains",
            "The AI toolkit for {lang}: streaming chat, tools and generative UI",
            "Drag-and-drop visual builder for LLM workflows and agents",
            "Open-source platform for developing LLM apps: workflows, RAG and agents",
        ),
        ("llm", "framework", "generative-ai", "langchain", "low-code", "llmops"),
        ("Python", "TypeScript", "Java", "Go"),
    ),
    Kind(
        "app-development",
        "evaluation",
        2,
        ("llm-eval", "prompt-tests", "rag-eval", "red-team-kit"),
        (
            "Test and evaluate LLM applications: prompts, RAG pipelines and agents",
            "Red-teaming and vulnerability scanner for LLM apps",
        ),
        ("evaluation", "llm-evaluation", "testing", "rag", "red-teaming"),
        ("Python", "TypeScript"),
    ),
    # ------------------------------------------------------------------ models
    Kind(
        "models",
        "language",
        4,
        ("tiny-llama", "open-lm", "qwen-lite", "mamba-lm", "phi-mini", "bloomz-x"),
        (
            "Official code and weights of {name}, an open {size} language model",
            "{name}: a family of open-weight large language models from {size} to 70B",
            "Inference code for the {name} chat models",
        ),
        ("llm", "language-model", "transformers", "pretrained-models", "open-source-llm"),
        ("Python",),
    ),
    Kind(
        "models",
        "vision",
        3,
        ("segment-all", "det-former", "yolo-next", "depth-pro", "open-clip-x", "vit-zoo"),
        (
            "Official implementation of {name}: real-time object detection",
            "{name}: segment anything in images and videos",
            "Monocular depth estimation model with pretrained checkpoints",
        ),
        ("computer-vision", "object-detection", "segmentation", "pytorch", "deep-learning"),
        ("Python", "Jupyter Notebook"),
    ),
    Kind(
        "models",
        "speech",
        2,
        ("whisper-x", "voice-clone", "tts-next", "fast-asr", "bark-lite"),
        (
            "{name}: expressive text-to-speech with zero-shot voice cloning",
            "Robust speech recognition model trained on 680k hours",
            "High-quality multilingual TTS model with emotion control",
        ),
        ("text-to-speech", "speech-recognition", "tts", "asr", "voice-cloning"),
        ("Python",),
    ),
    Kind(
        "models",
        "multimodal",
        3,
        ("llava-next", "vision-chat", "omni-model", "video-llm", "mini-vlm"),
        (
            "{name}: a multimodal model that understands images, video and text",
            "Official repository of {name}, an open vision-language model",
            "Visual instruction tuning: towards GPT-4V-level capabilities",
        ),
        ("multimodal", "vision-language-model", "llava", "vlm", "mllm"),
        ("Python",),
    ),
    Kind(
        "models",
        "multilingual",
        1,
        ("chinese-llm", "polyglot-lm", "aya-x"),
        (
            "Open bilingual Chinese-English chat model with {size} parameters",
            "Multilingual language model covering 100 languages",
        ),
        ("multilingual", "chinese", "llm", "chatglm"),
        ("Python",),
    ),
    # ------------------------------------------------------------------ model development
    Kind(
        "model-development",
        "modelling and training",
        5,
        (
            "fine-tune-kit",
            "lora-trainer",
            "rlhf-lab",
            "train-llm",
            "dist-train",
            "deep-trainer",
            "tensorlite",
            "grad-engine",
        ),
        (
            "Fine-tune {llm} 2x faster with 70% less memory",
            "Efficient LoRA and QLoRA fine-tuning for large language models",
            "RLHF and DPO training library for language models",
            "Distributed training of large models on {hw}",
            "A deep learning framework with automatic differentiation and GPU acceleration",
        ),
        ("fine-tuning", "lora", "pytorch", "deep-learning", "rlhf", "training", "peft"),
        ("Python", "C++"),
    ),
    Kind(
        "model-development",
        "inference optimisation",
        4,
        (
            "quant-kit",
            "fast-kernels",
            "llm-compress",
            "gguf-tools",
            "tensor-compiler",
            "flash-attn-lite",
        ),
        (
            "4-bit and 8-bit quantization of large language models",
            "Fused attention kernels for fast transformer inference on {hw}",
            "A deep learning compiler that optimises models for {hw}",
            "Post-training quantization and pruning toolkit",
        ),
        ("quantization", "cuda", "inference", "llm", "kernels", "compiler", "gguf"),
        ("C++", "Python", "Cuda", "Rust"),
    ),
    Kind(
        "model-development",
        "dataset engineering",
        2,
        ("data-juicer-x", "synth-data", "dedup-text", "label-studio-lite", "web-crawl-llm"),
        (
            "Generate synthetic training data for fine-tuning {llm}",
            "Clean, deduplicate and filter web-scale text datasets for LLM pre-training",
            "Data labeling tool for machine learning with active learning",
        ),
        ("dataset", "synthetic-data", "data-processing", "llm", "annotation"),
        ("Python",),
    ),
    Kind(
        "model-development",
        "model evaluation",
        2,
        ("lm-harness", "bench-llm", "open-compass-x", "leaderboard-kit"),
        (
            "A framework for few-shot evaluation of language models on 200+ benchmarks",
            "Benchmark {llm} on reasoning, coding and math",
        ),
        ("benchmark", "evaluation", "llm", "leaderboard"),
        ("Python",),
    ),
    # ------------------------------------------------------------------ infrastructure
    Kind(
        "infrastructure",
        "serving",
        4,
        (
            "llm-serve",
            "fast-inference",
            "model-server",
            "local-llm-runner",
            "openllm-x",
            "infer-engine",
        ),
        (
            "High-throughput, memory-efficient inference and serving engine for {llm}",
            "Run {llm} locally with an OpenAI-compatible API",
            "Serve machine learning models in production on {hw}",
            "Production LLM gateway: routing, caching and load balancing across providers",
        ),
        ("inference", "llm-serving", "openai-api", "model-serving", "gpu", "mlops"),
        ("Python", "Go", "Rust", "C++"),
    ),
    Kind(
        "infrastructure",
        "vector database",
        3,
        ("vector-db", "embed-store", "ann-search", "vec-lite", "similarity-db"),
        (
            "Open-source vector database for AI applications, written in {lang}",
            "Billion-scale approximate nearest neighbour search for embeddings",
            "Embedded vector search engine with hybrid keyword search",
        ),
        ("vector-database", "embeddings", "similarity-search", "ann", "rag"),
        ("Rust", "Go", "C++", "Python"),
    ),
    Kind(
        "infrastructure",
        "monitoring",
        2,
        ("llm-observe", "trace-ai", "prompt-monitor", "ml-telemetry"),
        (
            "Open-source LLM observability: traces, evals, prompt management and metrics",
            "Monitor ML models in production: drift, data quality and performance",
        ),
        ("observability", "llmops", "monitoring", "tracing", "mlops"),
        ("TypeScript", "Python", "Go"),
    ),
    Kind(
        "infrastructure",
        "compute",
        2,
        ("gpu-sched", "ray-lite", "ml-cluster", "compute-pool"),
        (
            "Run AI workloads on any cloud: GPU scheduling and cost optimisation",
            "Distributed compute framework for scaling Python and ML workloads on {hw}",
        ),
        ("gpu", "distributed-computing", "kubernetes", "mlops", "cloud"),
        ("Python", "Go"),
    ),
    Kind(
        "infrastructure",
        "data management",
        2,
        ("feature-store", "ml-metadata", "model-registry", "lakehouse-ml"),
        (
            "Feature store for machine learning in production",
            "Version and track ML datasets, models and experiments",
        ),
        ("mlops", "machine-learning", "data-versioning", "experiment-tracking"),
        ("Python", "Go"),
    ),
    # ------------------------------------------------------------------ tutorials and lists
    Kind(
        "tutorials",
        "",
        5,
        (
            "llm-course",
            "ml-for-beginners",
            "deep-learning-book",
            "genai-cookbook",
            "llms-from-zero",
            "ai-notebooks",
            "prompt-guide",
            "nlp-tutorial",
        ),
        (
            "Course to get into large language models with roadmaps and Colab notebooks",
            "12 weeks, 26 lessons: machine learning for beginners",
            "Implement a ChatGPT-like LLM from scratch, step by step",
            "Examples and guides for building with {llm}",
            "Dive into deep learning: an interactive book with code",
        ),
        ("tutorial", "course", "machine-learning", "deep-learning", "jupyter-notebook", "llm"),
        ("Jupyter Notebook", "Python", "MDX"),
    ),
    Kind(
        "lists",
        "",
        4,
        (
            "awesome-llm",
            "awesome-ai-agents",
            "awesome-rag",
            "awesome-diffusion",
            "awesome-mlops",
            "awesome-prompts",
            "llm-papers",
        ),
        (
            "A curated list of awesome resources on large language models",
            "Awesome list of AI agents, frameworks and papers",
            "A curated collection of ChatGPT prompts",
            "Papers and resources on retrieval-augmented generation",
        ),
        ("awesome", "awesome-list", "llm", "ai", "papers", "resources"),
        ("",),
    ),
)

_OTHER_KINDS: tuple[Kind, ...] = (
    Kind(
        "other",
        "web framework",
        5,
        ("swift-web", "hyperserve", "route-kit", "fastweb", "webstack", "micro-http"),
        (
            "A fast, minimalist web framework for {lang}",
            "Full-stack web framework with batteries included",
            "Ergonomic HTTP server and router with middleware support",
        ),
        ("web-framework", "http", "rest-api", "server"),
        ("Go", "Rust", "TypeScript", "Python", "Java"),
        ai=False,
    ),
    Kind(
        "other",
        "frontend",
        4,
        ("ui-kit", "react-blocks", "css-grid", "icons-pack", "chartly", "form-state"),
        (
            "Beautifully designed components built with {web} and Tailwind CSS",
            "A lightweight state management library for {web}",
            "Simple yet flexible JavaScript charting library",
            "Open-source icon set for the web",
        ),
        ("react", "ui-components", "css", "frontend", "tailwindcss"),
        ("TypeScript", "JavaScript", "CSS"),
        ai=False,
    ),
    Kind(
        "other",
        "editor",
        2,
        ("code-editor", "vim-next", "md-editor", "note-pad", "term-emu"),
        (
            "A hyperextensible text editor built for speed",
            "GPU-accelerated terminal emulator",
            "Markdown editor with live preview",
        ),
        ("editor", "terminal", "text-editor", "vim"),
        ("Rust", "C", "TypeScript", "C++"),
        ai=False,
    ),
    Kind(
        "other",
        "database",
        3,
        ("time-db", "kv-store", "sql-lite-x", "graph-db", "doc-store", "stream-log"),
        (
            "Distributed SQL database built for cloud-native applications",
            "Embedded key-value store written in {lang}",
            "Time-series database for metrics and events",
            "Postgres-compatible analytical database",
        ),
        ("database", "sql", "distributed-systems", "storage"),
        ("Go", "Rust", "C++", "Java"),
        ai=False,
    ),
    Kind(
        "other",
        "devops",
        4,
        ("deploy-kit", "k8s-dash", "infra-as-code", "container-tool", "ci-runner", "proxy-gate"),
        (
            "Kubernetes dashboard and cluster management tool",
            "Self-hosted Heroku alternative: deploy apps with git push",
            "Fast, secure reverse proxy with automatic HTTPS",
            "Build container images without a daemon",
        ),
        ("kubernetes", "docker", "devops", "self-hosted", "ci-cd"),
        ("Go", "Rust", "Shell", "TypeScript"),
        ai=False,
    ),
    Kind(
        "other",
        "games",
        2,
        ("pixel-quest", "game-engine-x", "retro-emu", "chess-engine", "voxel-craft"),
        (
            "Open-source 2D and 3D game engine",
            "Emulator for classic game consoles",
            "A strong UCI chess engine",
            "Voxel sandbox game inspired by Minecraft",
        ),
        ("game-engine", "game", "emulator", "gamedev"),
        ("C++", "C#", "Rust", "C"),
        ai=False,
    ),
    Kind(
        "other",
        "utilities",
        4,
        (
            "fast-grep",
            "dotfiles",
            "zip-tool",
            "json-cli",
            "http-client",
            "download-manager",
            "file-sync",
        ),
        (
            "A command-line tool for searching files, faster than grep",
            "My dotfiles for macOS and Linux",
            "Cross-platform file synchronisation",
            "A friendly command-line HTTP client",
            "Format, query and colourise JSON on the command line",
        ),
        ("cli", "command-line", "productivity", "terminal", "tools"),
        ("Rust", "Go", "Shell", "Python", "C"),
        ai=False,
    ),
    Kind(
        "other",
        "mobile",
        2,
        ("mobile-kit", "flutter-ui", "android-tools", "ios-charts"),
        (
            "Cross-platform mobile UI components for Flutter",
            "Beautiful charts for iOS apps",
            "Android utilities and extensions",
        ),
        ("android", "ios", "flutter", "mobile"),
        ("Dart", "Kotlin", "Swift", "Java"),
        ai=False,
    ),
    Kind(
        "other",
        "non-AI tutorials and lists",
        3,
        (
            "awesome-selfhosted-x",
            "interview-prep",
            "system-design-notes",
            "learn-go",
            "awesome-rust-x",
            "cs-books",
        ),
        (
            "A curated list of awesome {lang} frameworks, libraries and software",
            "Everything you need to prepare for coding interviews",
            "Learn how to design large-scale systems",
            "Free programming books in many languages",
        ),
        ("awesome-list", "tutorial", "interview", "books", "learning"),
        ("", "Markdown", "Python"),
        ai=False,
    ),
    Kind(
        "other",
        "false positive: gpt partitions",
        1,
        ("gpt-disk", "gpt-fdisk-x", "partition-tool", "gpt-fix"),
        (
            "Manipulate GUID partition tables (GPT) on disks and disk images",
            "Convert MBR disks to GPT without data loss",
            "Repair damaged GPT partition headers",
        ),
        ("gpt", "partition", "disk", "uefi", "bootloader"),
        ("C", "C++", "Rust"),
        ai=False,
    ),
    Kind(
        "other",
        "false positive: monitoring agents",
        1,
        ("metrics-agent", "log-agent", "host-agent", "telemetry-agent"),
        (
            "Lightweight agent that collects host metrics and ships them to Prometheus",
            "Log shipping agent for Elasticsearch and Loki",
            "Server monitoring agent with alerts and dashboards",
        ),
        ("agent", "monitoring", "metrics", "observability", "prometheus"),
        ("Go", "Rust", "C"),
        ai=False,
    ),
    Kind(
        "other",
        "false positive: data transformers",
        1,
        ("data-transformer", "etl-pipeline", "schema-transformers"),
        (
            "Transform JSON, CSV and XML data with declarative pipelines",
            "Model transformers for SQL: build, test and document data pipelines",
        ),
        ("etl", "data-pipeline", "transformers", "sql"),
        ("Python", "Java", "Go"),
        ai=False,
    ),
)

_ORG_HEADS = (
    "lumen",
    "pixel",
    "neural",
    "deep",
    "open",
    "astra",
    "nova",
    "quantum",
    "vector",
    "cortex",
    "river",
    "cedar",
    "atlas",
    "signal",
    "north",
    "bright",
    "iron",
    "blue",
    "silver",
    "hyper",
    "sparrow",
    "maple",
    "orbit",
    "ember",
    "tidal",
    "zen",
    "polar",
    "granite",
    "lattice",
    "prism",
)
_ORG_TAILS = (
    "-ai",
    "forge",
    "labs",
    "works",
    "hq",
    "-dev",
    "-io",
    "soft",
    "stack",
    "hub",
    "-research",
    "ml",
    "-org",
    "cloud",
    "systems",
)
_PEOPLE = (
    "alex",
    "maria",
    "chen",
    "priya",
    "jonas",
    "yuki",
    "omar",
    "lena",
    "diego",
    "sara",
    "ivan",
    "mei",
    "tom",
    "nina",
    "raj",
    "eva",
    "kofi",
    "ana",
    "liam",
    "sofia",
    "hiro",
    "zoe",
    "arjun",
    "marta",
)
_PEOPLE_TAILS = ("dev", "codes", "-k", "x", "lab", "hacks", "99", "-ml", "builds", "2")
_NAME_TAILS = (
    "",
    "",
    "",
    "-py",
    "-js",
    "-rs",
    "-go",
    "-core",
    "-server",
    "2",
    "-next",
    "-lite",
    "-pro",
    "-x",
)
_MODEL_NAMES = (
    "Orca",
    "Falcon",
    "Heron",
    "Lynx",
    "Kestrel",
    "Osprey",
    "Marten",
    "Ibis",
    "Puffin",
    "Wren",
    "Otter",
    "Yak",
)
_SIZES = ("1B", "3B", "7B", "8B", "13B", "14B", "32B", "70B")
_LICENSES = {
    "MIT": 35,
    "Apache-2.0": 25,
    "": 15,
    "BSD-3-Clause": 6,
    "GPL-3.0": 6,
    "AGPL-3.0": 3,
    "Other": 4,
    "MPL-2.0": 2,
    "BSD-2-Clause": 2,
    "LGPL-3.0": 2,
}
_AI_YEARS = {
    2012: 1,
    2013: 1,
    2014: 2,
    2015: 3,
    2016: 4,
    2017: 5,
    2018: 5,
    2019: 5,
    2020: 6,
    2021: 7,
    2022: 10,
    2023: 26,
    2024: 18,
    2025: 13,
    2026: 5,
}
_OTHER_YEARS = {
    2012: 6,
    2013: 6,
    2014: 7,
    2015: 7,
    2016: 7,
    2017: 7,
    2018: 7,
    2019: 7,
    2020: 7,
    2021: 7,
    2022: 7,
    2023: 8,
    2024: 6,
    2025: 5,
    2026: 2,
}
AI_SHARE = 0.75


def _pick(rng: random.Random, weighted: dict[T, int]) -> T:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def _owner(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(_ORG_HEADS) + rng.choice(_ORG_TAILS)
    return rng.choice(_PEOPLE) + rng.choice(_PEOPLE_TAILS)


def _stars(rng: random.Random) -> int:
    """Pareto (alpha 1.15) above 500: a long tail with a handful above 50k, none above 300k."""
    stars = int(500 / (1.0 - rng.random()) ** (1 / 1.15))
    return stars if stars <= 300_000 else rng.randint(150_000, 300_000)


def _created(rng: random.Random, ai: bool) -> date:
    year = _pick(rng, _AI_YEARS if ai else _OTHER_YEARS)
    last = date(2026, 8, 1) if year == 2026 else date(year, 12, 31)
    first = date(year, 1, 1)
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def _pushed(rng: random.Random, created: date) -> date:
    age = (SAMPLE_AS_OF - created).days
    idle = age if rng.random() < 0.08 else min(age, int(rng.expovariate(1 / 20)))
    return SAMPLE_AS_OF - timedelta(days=rng.randint(0, max(0, idle)))


def _describe(rng: random.Random, kind: Kind, title: str) -> str:
    template = rng.choice(kind.descriptions)
    slots = {key: rng.choice(words) for key, words in SLOTS.items()}
    return template.format(name=title, size=rng.choice(_SIZES), **slots)


def _topics(rng: random.Random, kind: Kind, language: str) -> tuple[str, ...]:
    if rng.random() < 0.3:
        return ()
    chosen = rng.sample(kind.topics, k=min(len(kind.topics), rng.randint(1, 5)))
    if language and rng.random() < 0.3:
        chosen.append(language.lower().replace(" ", "-").replace("#", "sharp").replace("+", "p"))
    return tuple(dict.fromkeys(chosen))


def _repo_name(rng: random.Random, kind: Kind, taken: set[str]) -> str:
    for attempt in range(50):
        owner = _owner(rng)
        name = rng.choice(kind.names) + (
            rng.choice(_NAME_TAILS) if attempt or rng.random() < 0.4 else ""
        )
        full_name = f"{owner}/{name}"
        if full_name.lower() not in taken:
            taken.add(full_name.lower())
            return full_name
    full_name = f"{_owner(rng)}/{rng.choice(kind.names)}-{len(taken)}"
    taken.add(full_name.lower())
    return full_name


def _one(rng: random.Random, kind: Kind, taken: set[str]) -> LabelledRepo:
    full_name = _repo_name(rng, kind, taken)
    created = _created(rng, kind.ai)
    stars = _stars(rng)
    language = rng.choice(kind.languages)
    title = rng.choice(_MODEL_NAMES) if kind.category == "models" else full_name.split("/")[1]
    description = "" if rng.random() < 0.05 else _describe(rng, kind, title)
    repo = SnapshotRepo(
        full_name=full_name,
        stars=stars,
        created_at=created,
        stars_as_of=SAMPLE_AS_OF,
        forks=int(stars * rng.uniform(0.04, 0.3)),
        language=language or None,
        pushed_at=_pushed(rng, created),
        license=_pick(rng, _LICENSES) or None,
        topics=_topics(rng, kind, language),
        description=description or None,
    )
    return LabelledRepo(repo, LAYERS[kind.category], kind.category, kind.subcategory)


def _kinds_for(n: int, rng: random.Random) -> list[Kind]:
    """Every kind at least once (for n large enough), the rest drawn by weight."""
    ai_count = round(n * AI_SHARE)
    kinds: list[Kind] = []
    for pool, count in ((_AI_KINDS, ai_count), (_OTHER_KINDS, n - ai_count)):
        base = list(pool)[:count]
        extra = rng.choices(pool, weights=[k.weight for k in pool], k=max(0, count - len(base)))
        kinds += base + extra
    rng.shuffle(kinds)
    return kinds


def generate_labelled(n: int = 2000, seed: int = 7) -> list[LabelledRepo]:
    """n invented repositories with the category each was generated for (deterministic)."""
    rng = random.Random(seed)
    taken: set[str] = set()
    return [_one(rng, kind, taken) for kind in _kinds_for(n, rng)]


def generate_sample(n: int = 2000, seed: int = 7) -> list[SnapshotRepo]:
    """The sample snapshot: n invented repositories with 500+ stars, sorted by stars."""
    repos = [item.repo for item in generate_labelled(n, seed)]
    return sorted(repos, key=lambda r: (-r.stars, r.full_name.lower()))


def generate_population(n: int = 20_000, seed: int = 11) -> list[SnapshotRepo]:
    """A bigger population for benchmarks (same generator); far more than 1,000 per query."""
    return generate_sample(n, seed)


def write_sample(path: str | Path, n: int = 2000, seed: int = 7) -> Path:
    """Write the sample snapshot TSV (the format of standins.github.snapshot)."""
    return write_snapshot(generate_sample(n, seed), path)


def write_sample_labels(path: str | Path, n: int = 2000, seed: int = 7) -> Path:
    """Write the generated categories in the labels-file format (label_source 'sample')."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = (
        "full_name",
        "description",
        "language",
        "topics",
        "stars",
        "created_at",
        "layer",
        "category",
        "subcategory",
        "label_source",
    )
    lines = ["\t".join(columns)]
    for item in generate_labelled(n, seed):
        repo = item.repo
        cells = (
            repo.full_name,
            repo.description or "",
            repo.language or "",
            ",".join(repo.topics),
            str(repo.stars),
            repo.created_at.isoformat(),
            item.layer,
            item.category,
            item.subcategory,
            "sample",
        )
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
