#!/usr/bin/env python3
"""A whole chat through Switchboard's public protocol, printing every frame.

    pip install websockets
    python3 docs/examples/walkthrough.py http://127.0.0.1:8080 <asset-id>

A customer starts a chat over REST and opens the customer socket; the demo agent Ana signs in,
opens the agent socket, goes Available, receives the offer and accepts it; both sides exchange
messages, typing and a template; the customer drops and resumes with `last_seq`; Ana's
desktop reloads and resumes with `resume`; Ana ends the chat and wraps it up. Run it against
`switchboard serve --demo` with no other chat waiting and no other agent of the "Support" queue
Available (else the offer may go elsewhere).

Lines read `<who> >> frame` (sent) and `<who> << frame` (received). See docs/protocol.md.
"""

import argparse
import asyncio
import json
import secrets
import urllib.error
import urllib.request

from websockets.asyncio.client import connect  # websockets >= 13


def dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def http(method, url, body=None, token=None):
    """One REST call; prints it and returns the decoded JSON (or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    print(f"\nHTTP {method} {url}" + (f"  {dumps(body)}" if body is not None else ""))
    try:
        with urllib.request.urlopen(request) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    print(f"  -> {status} {text}")
    return json.loads(text) if text else None


class Peer:
    """One WebSocket, printing what goes each way."""

    def __init__(self, name, ws):
        self.name, self.ws, self.last_seq = name, ws, 0

    async def send(self, frame):
        print(f"{self.name} >> {dumps(frame)}")
        await self.ws.send(json.dumps(frame))

    async def recv(self, timeout):
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        print(f"{self.name} << {dumps(frame)}")
        if frame["type"] == "event":
            self.last_seq = max(self.last_seq, frame["seq"])
        if frame["type"] == "welcome":
            self.last_seq = max(self.last_seq, frame["head_seq"])
        return frame

    async def expect(self, match, timeout=40):
        """Reads frames until one matches (a frame type, or a predicate)."""
        test = match if callable(match) else (lambda f: f["type"] == match)
        while True:
            frame = await self.recv(timeout)
            if test(frame):
                return frame

    async def drain(self, quiet=0.5):
        """Reads whatever else arrives until the socket has been quiet for `quiet` seconds."""
        try:
            while True:
                await self.recv(quiet)
        except asyncio.TimeoutError:
            pass


# Command ids are kept per sender for at least 24 hours: an agent's ids must not repeat across
# runs (a repeated id would only get the earlier run's ack back). The customer is new each run.
RUN = secrets.token_hex(3)


def agent_id(n):
    return f"a-{RUN}-{n}"


def is_ack(command_id):
    return lambda f: f.get("id") == command_id


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base", help="the server's base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("asset", help="the asset id (printed by `serve --demo`)")
    parser.add_argument("--email", default="ana@demo.switchboard.test")
    parser.add_argument("--password", default="switchboard-demo")
    args = parser.parse_args()
    base = args.base.rstrip("/")
    ws_base = "ws" + base[len("http"):]

    print("== 1. The customer starts a chat")
    started = http("POST", f"{base}/api/v1/assets/{args.asset}/conversations",
                   {"name": "Jo Customer", "email": "jo@example.com",
                    "page_url": "https://shop.example.com/pricing"})
    cid, customer_token = started["conversation_id"], started["token"]

    print("\n== 2. The widget opens the customer socket and says hello")
    customer_ws = await connect(f"{ws_base}/api/v1/ws/customer")
    customer = Peer("customer", customer_ws)
    await customer.send({"type": "hello", "token": customer_token, "last_seq": 0})
    await customer.expect("welcome")
    await customer.drain()
    await customer.send({"type": "send", "id": "c-1", "text": "Hi, where is my order?"})
    await customer.expect(is_ack("c-1"))
    await customer.drain()

    print("\n== 3. The agent signs in and reads the lists the desktop needs")
    session = http("POST", f"{base}/api/v1/sessions",
                   {"email": args.email, "password": args.password})
    token = session["token"]
    reasons = http("GET", f"{base}/api/v1/wrapup-reasons", token=token)
    resolved = next(r["id"] for r in reasons if r["name"] == "Resolved")

    print("\n== 4. The agent socket: hello, snapshot, go Available, the offer")
    agent_ws = await connect(f"{ws_base}/api/v1/ws/agent")
    agent = Peer("agent", agent_ws)
    await agent.send({"type": "hello", "token": token})
    await agent.expect("snapshot")
    await agent.send({"type": "set_presence", "id": agent_id(1), "presence": "available"})
    offer = await agent.expect("offer")
    await agent.drain()
    if offer["offer"]["conversation_id"] != cid:
        raise SystemExit("another chat was waiting ahead of ours: run this on a quiet server "
                         "(an unanswered chat leaves its queue after the customer grace, 2 min)")

    print("\n== 5. Accept: the agent gets the history; the customer sees `accepted`")
    await agent.send({"type": "accept", "id": agent_id(2), "conversation_id": cid})
    await agent.expect(is_ack(agent_id(2)))
    await agent.drain()
    await customer.drain()

    print("\n== 6. Messages both ways, typing, a template")
    await customer.send({"type": "typing"})
    await agent.expect("typing")
    await agent.send({"type": "typing", "conversation_id": cid})
    await customer.expect("typing")
    await agent.send({"type": "send_template", "id": agent_id(3), "conversation_id": cid,
                      "template": "Greeting"})
    await agent.expect(is_ack(agent_id(3)))
    await agent.drain()
    await customer.drain()
    await agent.send({"type": "send", "id": agent_id(4), "conversation_id": cid,
                      "text": "Let me check.\nOne moment please."})
    await agent.drain()
    await customer.drain()
    await customer.send({"type": "send", "id": "c-2", "text": "Thanks! Order 4711."})
    await customer.drain()
    await agent.drain()

    print("\n== 7. A repeated id gets the first answer; a rule broken gets an error")
    await customer.send({"type": "send", "id": "c-2", "text": "Thanks! Order 4711."})
    await customer.drain()
    await customer.send({"type": "send", "id": "c-2", "text": "Something else"})
    await customer.drain()
    await agent.send({"type": "send", "id": agent_id(5), "conversation_id": cid, "text": "1 < 2"})
    await agent.drain()

    print("\n== 8. The customer drops; a message arrives meanwhile; the customer resumes")
    await customer_ws.close()
    seen = customer.last_seq
    print(f"(customer socket closed; last seq seen: {seen})")
    await agent.drain()
    await agent.send({"type": "send", "id": agent_id(6), "conversation_id": cid,
                      "text": "It ships tomorrow."})
    await agent.drain()
    customer_ws = await connect(f"{ws_base}/api/v1/ws/customer")
    customer = Peer("customer", customer_ws)
    await customer.send({"type": "hello", "token": customer_token, "last_seq": seen})
    await customer.expect("welcome")
    await customer.drain()
    await agent.drain()

    print("\n== 9. The agent's desktop reloads and resumes; `sync` reads the log again")
    await agent_ws.close()
    seen = agent.last_seq
    print(f"(agent socket closed; last seq seen: {seen})")
    await customer.send({"type": "send", "id": "c-3", "text": "Great, thank you!"})
    await customer.drain()
    agent_ws = await connect(f"{ws_base}/api/v1/ws/agent")
    agent = Peer("agent", agent_ws)
    await agent.send({"type": "hello", "token": token, "resume": {cid: seen}})
    await agent.expect("snapshot")
    await agent.drain()
    await agent.send({"type": "sync", "id": agent_id(7), "conversation_id": cid,
                      "after_seq": agent.last_seq - 2})
    await agent.drain()

    print("\n== 10. The agent ends the chat and wraps it up")
    await agent.send({"type": "end", "id": agent_id(8), "conversation_id": cid})
    await agent.drain()
    await customer.drain()
    await agent.send({"type": "wrap_up", "id": agent_id(9), "conversation_id": cid,
                      "reason_id": resolved})
    await agent.drain()
    await customer.drain()
    await customer_ws.close()
    await agent_ws.close()

    print("\n== 11. The whole log, as the agent may read it later")
    http("GET", f"{base}/api/v1/conversations/{cid}/events?after=0&limit=3", token=token)
    http("DELETE", f"{base}/api/v1/sessions/current", token=token)


if __name__ == "__main__":
    asyncio.run(main())
