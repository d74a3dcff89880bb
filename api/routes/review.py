"""The review queue: repositories whose confirmation is expected to improve the counts most.

Answers go through ``PUT /v1/repos/{owner}/{name}/label`` (a human label, which trains the next
model); the order is recomputed with the estimates after each classification run.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import CursorDep, checked_category
from api.schemas import ReviewAlternative, ReviewItem, ReviewQueue, label_summary
from warehouse.estimates import human_confirmed, latest_run, review_queue, review_queue_size

router = APIRouter(prefix="/v1", tags=["review"])

ALTERNATIVES = 4


def alternatives(row: dict[str, Any], limit: int = ALTERNATIVES) -> list[ReviewAlternative]:
    """The likeliest categories of a queue row, most probable first."""
    pairs = sorted(zip(row["categories"], row["probabilities"], strict=True),
                   key=lambda pair: -pair[1])
    return [ReviewAlternative(category=c, probability=round(p, 4)) for c, p in pairs[:limit]]


def review_item(rank: int, row: dict[str, Any]) -> ReviewItem:
    return ReviewItem(
        rank=rank, full_name=row["full_name"], description=row["description"],
        language=row["language"], stars=row["stars"], created_at=row["created_at"],
        label=label_summary(row), rationale=row["rationale"], alternatives=alternatives(row),
        review_score=round(row["review_score"], 6),
        answer=f"PUT /v1/repos/{row['full_name']}/label",
    )


@router.get(
    "/review",
    response_model=ReviewQueue,
    summary="Labels to confirm, the one that helps the counts most first",
)
def get_review_queue(
    cursor: CursorDep,
    category: Annotated[
        str | None, Query(description="Only repositories currently labelled so.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ReviewQueue:
    category = checked_category(category)
    rows = review_queue(cursor, limit=limit, offset=offset, category=category)
    run = latest_run(cursor)
    return ReviewQueue(
        total=review_queue_size(cursor, category), human_confirmed=human_confirmed(cursor),
        model_version=run.model_version if run else None, limit=limit, offset=offset,
        items=[review_item(offset + index + 1, row) for index, row in enumerate(rows)],
    )
