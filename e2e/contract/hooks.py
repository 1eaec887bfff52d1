"""Schemathesis hooks for the API contract tests (e2e/tests/contract.rs, issue 17).

The generated requests reach the real servers. These hooks add what a generator cannot make: a voter session from a
real card login, and, for some of the generated casts and logins, a body the card really signed (through the card
helper and its confirmation page, as a voter's browser would), so that the success answers are checked against
the contract too, not only the refusals. Everything is read from the environment set by the test:

- IVOTE_CONTRACT: `voter` or `helper`, the API under test.
- IVOTE_VERIFIER, IVOTE_HELPER: the servers' origins.
- IVOTE_AUTH_PIN, IVOTE_SIGN_PASSWORD: the test card's PIN and password, typed on the helper's page.
- IVOTE_BALLOTS: a JSON file of ballots sealed by the test with the app's own encryption, each with its opening
  (`shared::sealed::BallotOpening`: `{ballot: {election, contest, ciphertext}, choice, seed}`), which the helper
  re-encrypts before the card signs (issue 18).
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import time

import requests
import schemathesis

API = os.environ.get("IVOTE_CONTRACT", "")
VERIFIER = os.environ.get("IVOTE_VERIFIER", "")
HELPER = os.environ.get("IVOTE_HELPER", "")
PIN = os.environ.get("IVOTE_AUTH_PIN", "")
PASSWORD = os.environ.get("IVOTE_SIGN_PASSWORD", "")
BALLOTS = json.load(open(os.environ["IVOTE_BALLOTS"])) if os.environ.get("IVOTE_BALLOTS") else []

# How often a generated cast or login is replaced by a really signed one: every Nth request.
SIGNED_EVERY = 3
counters = {}


def card(kind, payload):
    """Has the card sign through the helper, confirming on its page; returns {signature, certificate}."""
    r = requests.post(f"{HELPER}/api/v1/{kind}", json=payload, headers={"Origin": VERIFIER}, timeout=30)
    r.raise_for_status()
    started = r.json()
    secret = PIN if kind == "authenticate" else PASSWORD
    page = requests.post(
        started["confirm_url"], data={"pin": secret, "action": "confirm"}, headers={"Origin": HELPER}, timeout=30
    )
    page.raise_for_status()
    for _ in range(200):
        r = requests.get(
            f"{HELPER}/api/v1/operations/{started['operation_id']}", headers={"Origin": VERIFIER}, timeout=30
        )
        r.raise_for_status()
        state = r.json()
        if state["state"] == "done":
            return state
        if state["state"] in ("failed", "cancelled"):
            raise RuntimeError(f"the card helper did not sign: {state}")
        time.sleep(0.05)
    raise RuntimeError("the card helper never finished")


def signed_login():
    """A login body the card signed over (origin, nonce) for a fresh challenge."""
    nonce = requests.post(f"{VERIFIER}/api/v1/session/challenge", timeout=30).json()["nonce"]
    signed = card("authenticate", {"challenge": nonce})
    return {"nonce": nonce, "certificate": signed["certificate"], "signature": signed["signature"]}


def signed_cast():
    """The next prepared ballot, signed by the card after the helper checked its opening; None when all are used."""
    if not BALLOTS:
        return None
    opening = BALLOTS.pop(0)
    signed = card("sign/ballot", opening)
    return {
        "contest": opening["ballot"]["contest"],
        "ciphertext": opening["ballot"]["ciphertext"],
        "signature": signed["signature"],
        "certificate": signed["certificate"],
    }


# An application as the voter app writes it, for the helper run's sign/application.
APPLICATION = json.dumps({
    "kind": "apply", "municipality": "13101", "roll_entry": "E-1", "name": "在外 花子", "birth_date": "1990-04-01",
    "address_abroad": "New York", "email": "hanako@example.com",
}, ensure_ascii=False)


SEEN = os.environ.get("IVOTE_SEEN")


# Operations the generated requests started at the helper, oldest first. The helper keeps at most 32 (BUSY after
# that, for 5 minutes); all but the newest few are cancelled and collected, so that later phases, and the links
# from a started operation to its state, still reach a helper with room.
STARTED = []
KEEP = 4


@schemathesis.hook
def after_call(ctx, case, response):
    """Records each answer's operation and status, so that the test can tell that success answers were checked."""
    if API == "helper" and response.status_code == 201 and "operation_id" in response.json():
        STARTED.append(response.json()["operation_id"])
        while len(STARTED) > KEEP:
            old = STARTED.pop(0)
            headers = {"Origin": VERIFIER}
            requests.post(f"{HELPER}/api/v1/operations/{old}/cancel", headers=headers, timeout=30)
            requests.get(f"{HELPER}/api/v1/operations/{old}", headers=headers, timeout=30)
    if SEEN:
        with open(SEEN, "a") as f:
            f.write(json.dumps({"method": case.operation.method.upper(), "path": case.operation.path,
                                "status": response.status_code}) + "\n")


def turn(key):
    counters[key] = counters.get(key, 0) + 1
    return counters[key] % SIGNED_EVERY == 1


if API == "voter":

    @schemathesis.auth()
    class VoterSession:
        """A real voting session: a challenge, the card's login signature, and the cookie it sets."""

        def get(self, case, ctx):
            r = requests.post(f"{VERIFIER}/api/v1/session", json=signed_login(), timeout=30)
            r.raise_for_status()
            return r.cookies["vsession"]

        def set(self, case, data, ctx):
            case.cookies = dict(case.cookies or {})
            case.cookies["vsession"] = data

    @schemathesis.hook
    def before_call(ctx, case, **kwargs):
        path, method = case.operation.path, case.operation.method.upper()
        if method != "POST":
            return
        if path in ("/api/v1/session", "/api/v1/session/extend") and turn(path):
            case.body = signed_login()
        elif path == "/api/v1/ballots" and turn(path):
            body = signed_cast()
            if body is not None:
                case.body = body


if API == "helper":
    # Separate halves: a ballot opened for a check is never signed afterwards (409 CHALLENGED_BALLOT).
    POOLS = {"/api/v1/sign/ballot": BALLOTS[0::2], "/api/v1/check/ballot": BALLOTS[1::2]}

    @schemathesis.hook
    def before_call(ctx, case, **kwargs):
        """Some generated ballots and applications are replaced by real ones, so that the helper's success answers
        (the re-encryption matched; the application parsed) are checked against the contract too."""
        path, method = case.operation.path, case.operation.method.upper()
        if method != "POST" or not turn(path):
            return
        pool = POOLS.get(path)
        if pool:
            case.body = pool.pop(0)
        elif path == "/api/v1/sign/application":
            case.body = {"application": APPLICATION}


if API == "operator":
    OPERATOR = os.environ["IVOTE_OPERATOR"]
    CLIENT = (os.environ["IVOTE_OPERATOR_CERT"], os.environ["IVOTE_OPERATOR_KEY"])
    CA = os.environ["IVOTE_OPERATOR_CA"]
    SECRET = os.environ["IVOTE_TOTP_SECRET"]
    last_step = [None]

    def totp(step):
        """RFC 6238 with SHA-1, 6 digits, 30-second steps, as the operators' authenticator apps compute it."""
        key = base64.b32decode(SECRET.upper() + "=" * (-len(SECRET) % 8))
        mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
        offset = mac[-1] & 0x0F
        return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)

    @schemathesis.auth()
    class OperatorSession:
        """A bearer token from `POST /op/v1/session` with this operator's certificate and a fresh TOTP code."""

        def get(self, case, ctx):
            for _ in range(2):
                step = int(time.time()) // 30
                if last_step[0] is not None and step <= last_step[0]:
                    # A code is accepted once: wait for the next one.
                    time.sleep(30 - time.time() % 30 + 0.5)
                    step = int(time.time()) // 30
                last_step[0] = step
                body = {"totp": totp(step)}
                r = requests.post(f"{OPERATOR}/op/v1/session", json=body, cert=CLIENT, verify=CA, timeout=30)
                if r.status_code != 401:
                    break
            r.raise_for_status()
            return r.json()["token"]

        def set(self, case, data, ctx):
            case.headers = dict(case.headers or {})
            case.headers["Authorization"] = f"Bearer {data}"

    @schemathesis.hook
    def before_call(ctx, case, **kwargs):
        # Ending the session would leave every later call without one: the logout is sent without it (401).
        if case.operation.method.upper() == "DELETE" and case.operation.path == "/op/v1/session":
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
