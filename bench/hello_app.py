"""The anchor of bench/api.py: a bare FastAPI app answering one JSON route."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
