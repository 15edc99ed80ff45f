"""format-v2-ids.py KEYFILE ALG FILE: the content id a one-chunk FILE must have in a
repository whose key file is KEYFILE and whose id algorithm is ALG (hmac-sha256 or
blake2b-256), computed from docs/format.md alone (password from CAIRN_PASSWORD): Argon2id
unwraps the master key (XChaCha20-Poly1305 = HChaCha20 below + RFC 8439), crypto_kdf
(BLAKE2b with salt and personal) derives the subkeys. Exit 3 when this Python cannot
(no Argon2id in its cryptography package)."""
import base64, hashlib, hmac, json, os, struct, sys
try:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
except ImportError:
    sys.exit(3)

def rotl(v, c): return ((v << c) & 0xffffffff) | (v >> (32 - c))
def qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 7)
def hchacha20(key, n16):
    s = list(struct.unpack('<4I', b'expand 32-byte k')) + list(struct.unpack('<8I', key)) + list(struct.unpack('<4I', n16))
    for _ in range(10):
        qr(s, 0, 4, 8, 12); qr(s, 1, 5, 9, 13); qr(s, 2, 6, 10, 14); qr(s, 3, 7, 11, 15)
        qr(s, 0, 5, 10, 15); qr(s, 1, 6, 11, 12); qr(s, 2, 7, 8, 13); qr(s, 3, 4, 9, 14)
    return struct.pack('<8I', *(s[0:4] + s[12:16]))
def kdf(master, i):
    return hashlib.blake2b(b'', digest_size=32, key=master, salt=struct.pack('<Q', i) + b'\0' * 8,
                           person=b'cairnkey' + b'\0' * 8).digest()
def master_key(keyfile, pw):
    k = json.load(open(keyfile))
    dk = Argon2id(salt=base64.b64decode(k['salt']), length=32, iterations=k['opslimit'], lanes=1,
                  memory_cost=k['memlimit'] // 1024).derive(pw)
    sealed = base64.b64decode(k['data'])
    nonce, ct = sealed[:24], sealed[24:]
    sub = hchacha20(kdf(dk, 1), nonce[:16])
    return ChaCha20Poly1305(sub).decrypt(b'\0' * 4 + nonce[16:], ct, bytes([7]))
m = master_key(sys.argv[1], os.environ['CAIRN_PASSWORD'].encode())
data = open(sys.argv[3], 'rb').read()
if sys.argv[2] == 'hmac-sha256':
    print(hmac.new(kdf(m, 4), data, hashlib.sha256).hexdigest())
else:
    print(hashlib.blake2b(data, digest_size=32, key=kdf(m, 2)).hexdigest())
