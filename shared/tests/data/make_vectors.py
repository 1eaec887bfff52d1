#!/usr/bin/env python3
"""Independent second implementation of the ballot format and digests (shared::ballot, shared::crypto).

Writes ballot_vectors.txt and crypto_vectors.txt from the specification in the module docs, using Python's
hashlib and the openssl command line (for the OAEP ciphertext and the card signature). The Rust tests compare
against these files, so both implementations must agree byte for byte. Run from this folder.
"""
import hashlib, struct, subprocess, tempfile, os

def frame(*parts):
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)

def binding(e, c):
    return hashlib.sha256(frame(b"jp-ivote:v1:contest", e.encode(), c.encode())).digest()[:16]

KIND = {"tokyo": 3, "national-pr": 4, "review": 5}

def ballot(e, c, tag, number=0, judges=0, marks=0):
    b = b"JIVB" + bytes([1, KIND[c], tag, 0]) + binding(e, c)
    b += struct.pack(">HBBI", number, judges, 0, marks) + bytes(32)
    assert len(b) == 64
    return b

vectors = [
    ballot("hoc-2028", "tokyo", 1, number=2),
    ballot("hoc-2028", "tokyo", 0),
    ballot("hoc-2028", "national-pr", 2, number=2),
    ballot("hoc-2028", "national-pr", 1, number=11),
    ballot("hoc-2028", "review", 3, judges=2, marks=0b10),
]
head = open("ballot_vectors.txt").read().split("\n")[:2]
with open("ballot_vectors.txt", "w") as f:
    f.write("\n".join(head) + "\n" + "".join(v.hex() + "\n" for v in vectors))

envelope = hashlib.sha256(frame(b"jp-ivote:v1:envelope", b"hoc-2028", b"tokyo", b"ciphertext")).digest()
auth = hashlib.sha256(frame(b"jp-ivote:v1:auth", b"https://vote.example.jp", bytes([7] * 32))).digest()
spki = subprocess.run(["openssl", "pkey", "-pubin", "-in", "test-election-key.pub.pem", "-outform", "DER"],
                      check=True, capture_output=True).stdout
with tempfile.TemporaryDirectory() as d:
    pt, dg = os.path.join(d, "pt"), os.path.join(d, "dg")
    open(pt, "wb").write(vectors[0])
    open(dg, "wb").write(envelope)
    label = b"jp-ivote:v1:ballot:hoc-2028:tokyo".hex()
    ct = subprocess.run(["openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", "test-election-key.pub.pem",
                         "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                         "-pkeyopt", "rsa_mgf1_md:sha256", "-pkeyopt", f"rsa_oaep_label:{label}", "-in", pt],
                        check=True, capture_output=True).stdout
    sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", "INSECURE-test-card-signing-key.pem",
                          "-pkeyopt", "digest:sha256", "-in", dg], check=True, capture_output=True).stdout
with open("crypto_vectors.txt", "w") as f:
    f.write("# Known answers for shared::crypto, written by make_vectors.py (hashlib + openssl).\n")
    f.write(f"envelope_digest = {envelope.hex()}\n")
    f.write(f"auth_digest = {auth.hex()}\n")
    f.write(f"tracker = {hashlib.sha256(b'ciphertext').hexdigest()}\n")
    f.write(f"election_key_fingerprint = {hashlib.sha256(spki).hexdigest()}\n")
    f.write(f"openssl_oaep_ciphertext = {ct.hex()}\n")
    f.write(f"openssl_card_signature = {sig.hex()}\n")
