"""The reference for throughput ratios: a bare FastAPI JSON route, served by the same uvicorn."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/json")
async def json_route() -> dict[str, object]:
    return {"items": [{"id": f"item{i}", "score": 1.0 / (i + 1)} for i in range(10)]}
