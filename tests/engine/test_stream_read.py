"""A many-streams read kept packed (``StreamRead``) sends the bytes redis-py would, answers as
redis-py's own call does, follows the positions it is moved to, and leaves no reply behind on a
connection when it is cancelled mid-block or refused. A batch's acknowledgement (``acknowledge``)
acknowledges every stream's entries and no others, and a refused one still reads every reply."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import ResponseError

from queue_server.engine.connection import is_cluster, redis_client
from queue_server.engine.streams import StreamRead, acknowledge


@pytest.fixture
def redis_url(service_urls: tuple[str, str]) -> str:
    if is_cluster(service_urls[0]):
        pytest.skip("a single node's connection pool (the cluster's reads go node by node)")
    return service_urls[0]


def test_the_same_bytes_as_redis_py_and_only_moved_positions_change() -> None:
    streams = [f"qs:{{c{i}}}:events" for i in range(287)]
    ids = [f"1795942057273-{i}" for i in range(287)]
    read = StreamRead(("XREAD", "COUNT", 500, "BLOCK", 2000), streams, ids)
    packed = read._packed_head + b"".join(read._packed_ids)
    assert packed == b"".join(Connection().pack_command("XREAD", "COUNT", 500, "BLOCK", 2000, "STREAMS", *streams, *ids))
    read.move(streams[7], "1795942057999-0")
    ids[7] = "1795942057999-0"
    assert read._packed_head + b"".join(read._packed_ids) == b"".join(
        Connection().pack_command("XREAD", "COUNT", 500, "BLOCK", 2000, "STREAMS", *streams, *ids))


async def test_reads_answer_as_redis_py_does_and_follow_their_positions(redis_url: str) -> None:
    client, prefix = redis_client(redis_url, blocking=True), f"test-read-{uuid.uuid4().hex}"
    streams = [f"{prefix}:{{c{i}}}:events" for i in range(3)]
    try:
        first = [await client.xadd(s, {"data": f"{i}"}) for i, s in enumerate(streams)]
        read = StreamRead(("XREAD", "COUNT", 10, "BLOCK", 100), streams, ["0-0"] * 3)
        assert await read(client) == await client.xread(dict.fromkeys(streams, "0-0"), count=10, block=100)
        for s, entry_id in zip(streams, first):
            read.move(s, entry_id.decode())
        assert await read(client) in (None, [])         # nothing after the moved positions: blocked 100 ms
        later = await client.xadd(streams[1], {"data": "later"})
        assert await read(client) == [[streams[1].encode(), [(later, {b"data": b"later"})]]]
    finally:
        await client.delete(*streams)
        await client.aclose()


async def test_a_cancelled_or_refused_read_leaves_no_reply_behind(redis_url: str) -> None:
    client, prefix = redis_client(redis_url, blocking=True, max_connections=1), f"test-read-{uuid.uuid4().hex}"
    stream = f"{prefix}:{{c}}:events"
    try:
        blocked = asyncio.create_task(StreamRead(("XREAD", "BLOCK", 2000), [stream], ["$"])(client))
        await asyncio.sleep(0.1)
        blocked.cancel()
        await asyncio.gather(blocked, return_exceptions=True)
        await client.xadd(stream, {"data": "late"})   # the cancelled read's reply, had it stayed on the connection
        with pytest.raises(ResponseError, match="NOGROUP"):
            await StreamRead(("XREADGROUP", "GROUP", "nobody", "me", "COUNT", 1), [stream], [">"])(client)
        assert await client.xlen(stream) == 1         # the one connection answers its own command
        assert await client.ping() is True
    finally:
        await client.delete(stream)
        await client.aclose()


async def test_a_batch_is_acknowledged_on_every_stream_and_a_refusal_leaves_no_reply_behind(redis_url: str) -> None:
    client, prefix = redis_client(redis_url, max_connections=1), f"test-ack-{uuid.uuid4().hex}"
    streams = [f"{prefix}:{{c{i}}}:events" for i in range(4)]
    try:
        for s in streams:
            await client.xgroup_create(s, "record", id="0", mkstream=True)
            for n in range(3):
                await client.xadd(s, {"data": f"{n}"})
        read = await client.xreadgroup("record", "me", dict.fromkeys(streams, ">"))
        delivered = {k.decode(): [entry_id for entry_id, _ in entries] for k, entries in read}
        kept = delivered[streams[3]].pop()             # one entry left unacknowledged
        await acknowledge(client, "record", delivered)
        pending = {s: (await client.xpending(s, "record"))["pending"] for s in streams}
        assert pending == {streams[0]: 0, streams[1]: 0, streams[2]: 0, streams[3]: 1}
        assert (await client.xpending_range(streams[3], "record", "-", "+", 10))[0]["message_id"] == kept

        await client.delete(streams[1])
        await client.set(streams[1], "not a stream")   # that stream's XACK is refused (WRONGTYPE)
        await client.xadd(streams[2], {"data": "later"})
        later = (await client.xreadgroup("record", "me", {streams[2]: ">"}))[0][1][0][0]
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await acknowledge(client, "record", {streams[1]: [b"1-0"], streams[2]: [later], streams[3]: [kept]})
        assert [(await client.xpending(s, "record"))["pending"] for s in (streams[2], streams[3])] == [0, 0]
        assert await client.ping() is True             # the one connection answers its own command
    finally:
        await client.delete(*streams)
        await client.aclose()
