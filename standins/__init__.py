"""Local stand-ins for the services stackatlas talks to, for the offline demo, tests and benches.

- ``standins.github``: a replay server that speaks GitHub's REST API (search, repositories,
  READMEs, star history) over a snapshot, with GitHub's rate limits and optional faults.
- ``standins.sample``: the generator of the project's own deterministic sample snapshot.
- ``standins.fake_llm``: an OpenAI-compatible chat-completions server answering from rules.

Product code never imports this package; only the face (``stackatlas`` demo and commands),
tests and benches do.
"""
