"""Run the mongoeco wire server in its own process: prints its URI, serves until killed."""

from __future__ import annotations

import asyncio
import sys


async def main() -> None:
    from mongoeco.engines.memory import MemoryEngine
    from mongoeco.wire import AsyncMongoEcoProxyServer

    async with AsyncMongoEcoProxyServer(engine=MemoryEngine(), host="127.0.0.1", port=0) as server:
        print(server.address.uri, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
