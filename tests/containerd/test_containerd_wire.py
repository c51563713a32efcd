"""The hand-written protobuf codec and ttrpc framing (no processes)."""

import asyncio
import os

import pytest

from manager.containerd import messages, ttrpc, wire

SIMPLE = wire.Message("Simple", [
    (1, "a", "int32"), (2, "s", "string"), (3, "b", "bytes"), (4, "flag", "bool"),
    (5, "big", "uint64"), (6, "neg", "int64"), (7, "list", "string*"), (8, "nums", "uint64*"),
    (9, "sub", "message", messages.TIMESTAMP), (10, "subs", "message*", messages.MOUNT),
    (11, "labels", "map"), (12, "f64", "fixed64"), (13, "u32", "uint32")])


@pytest.mark.parametrize("values, wire_hex", [
    ({"a": 150}, "089601"),                                  # the protobuf docs' example
    ({"s": "testing"}, "120774657374696e67"),
    ({"flag": True}, "2001"),
    ({"neg": -1}, "30ffffffffffffffffff01"),                 # negative int64: 10 bytes
    ({"nums": [3, 270]}, "4203038e02"),                      # packed repeated varints
    ({"sub": {"seconds": 1, "nanos": 2}}, "4a0408011002"),
    ({"a": 0, "s": "", "flag": False}, ""),                  # proto3 omits defaults
])
def test_encode_matches_known_bytes(values, wire_hex):
    assert SIMPLE.encode(values).hex() == wire_hex
    decoded = SIMPLE.decode(bytes.fromhex(wire_hex))
    for key, value in values.items():
        assert decoded[key] == value


def test_round_trip_of_every_kind():
    values = {"a": -5, "s": "ü", "b": b"\x00\xff", "flag": True, "big": 2**64 - 1,
              "neg": -2**63, "list": ["x", "", "y"], "nums": [0, 1, 2**40],
              "sub": {"seconds": 1700000000, "nanos": 999999999},
              "subs": [{"type": "bind", "source": "/a", "target": "", "options": ["rbind"]}],
              "labels": {"k": "v", "e": ""}, "f64": 2**63 + 1, "u32": 2**32 - 1}
    decoded = SIMPLE.decode(SIMPLE.encode(values))
    assert decoded["subs"][0]["options"] == ["rbind"]
    for key, value in values.items():
        if key != "subs":
            assert decoded[key] == value


def test_decode_fills_defaults_and_skips_unknown_fields():
    data = bytes.fromhex("f80701") + bytes.fromhex("fa0703616263") + SIMPLE.encode({"a": 7})
    decoded = SIMPLE.decode(data)
    assert decoded["a"] == 7 and decoded["s"] == "" and decoded["sub"] is None
    assert decoded["list"] == [] and decoded["labels"] == {}


def test_unpacked_repeated_varints_are_accepted():
    assert SIMPLE.decode(bytes.fromhex("4001" "4002"))["nums"] == [1, 2]


@pytest.mark.parametrize("data_hex", ["08", "1205616263", "0a01", "ffffffffffffffffffffff01", "0f"])
def test_malformed_input_raises_wire_error(data_hex):
    with pytest.raises(wire.WireError):
        SIMPLE.decode(bytes.fromhex(data_hex))


def test_envelope_carries_the_bare_type_name():
    data = messages.envelope("ns", "TaskExit", {"container_id": "c", "exit_status": 3})
    env = messages.FORWARD_REQUEST.decode(data)["envelope"]
    assert env["topic"] == "/tasks/exit" and env["namespace"] == "ns"
    assert env["event"]["type_url"] == "containerd.events.TaskExit"
    assert messages.EVENTS["TaskExit"].decode(env["event"]["value"])["exit_status"] == 3


def test_ttrpc_server_and_client_over_a_socket(tmp_path):
    async def echo(payload, _conn):
        return payload[::-1]

    async def fail(_payload, _conn):
        raise ttrpc.RpcError(ttrpc.NOT_FOUND, "no such thing")

    async def scenario():
        path = os.path.join(tmp_path, "t.sock")
        server = ttrpc.Server({("svc", "Echo"): echo, ("svc", "Fail"): fail})
        await server.listen(path)
        client = await ttrpc.Client.connect(path)
        calls = (client.call("svc", "Echo", bytes([i, 0])) for i in range(5))
        answers = await asyncio.gather(*calls)
        assert answers == [bytes([0, i]) for i in range(5)]
        with pytest.raises(ttrpc.RpcError) as err:
            await client.call("svc", "Fail", b"")
        assert err.value.code == ttrpc.NOT_FOUND
        with pytest.raises(ttrpc.RpcError) as err:
            await client.call("svc", "Nope", b"")
        assert err.value.code == ttrpc.UNIMPLEMENTED
        client.close()
        await server.close()

    asyncio.run(scenario())


def test_ttrpc_a_call_outlives_its_client_but_a_wait_does_not(tmp_path):
    """containerd SIGKILLed mid-call: a Create or Start must finish, a Wait may go."""
    async def scenario():
        release = asyncio.Event()
        entered, finished, cancelled = [], [], []

        async def change(_payload, _conn):
            entered.append("change")
            await release.wait()
            finished.append("change")
            return b""

        async def wait(_payload, _conn):
            entered.append("wait")
            try:
                await asyncio.Event().wait()  # forever, unless cancelled
            except asyncio.CancelledError:
                cancelled.append("wait")
                raise

        path = os.path.join(tmp_path, "t.sock")
        server = ttrpc.Server({("svc", "Change"): change, ("svc", "Wait"): wait},
                              waits={("svc", "Wait")})
        await server.listen(path)
        client = await ttrpc.Client.connect(path)
        calls = [asyncio.ensure_future(client.call("svc", name, b"")) for name in ("Change", "Wait")]
        while len(entered) < 2:
            await asyncio.sleep(0.001)  # the event loop's turn: both calls reach the server
        client.close()
        for call in calls:
            call.cancel()
        while not cancelled:
            await asyncio.sleep(0.001)  # the server sees the hang-up on its next read
        assert not finished
        release.set()
        while not finished:
            await asyncio.sleep(0.001)
        assert cancelled == ["wait"] and finished == ["change"]
        await server.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))
