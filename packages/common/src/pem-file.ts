import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

/** What a PEM file is expected to hold. */
export type PemKind = "certificate" | "private key";

/**
 * Reads a PEM file and checks that it holds what it should (a certificate, or a private key), so a
 * wrong or truncated file is refused at start with its path rather than failing later inside a TLS
 * handshake. Throws an Error whose message names the file; the caller adds the config key.
 */
export function readPemFile(path: string, kind: PemKind): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${path}: ${code ?? (err as Error).message}`);
  }
  parsePem(path, pem, kind);
  return pem;
}

/**
 * Checks that a private key (read by `readPemFile`) belongs to a certificate's first entry: a
 * mismatch is otherwise only reported as a vague handshake failure on the other side.
 */
export function checkPemKeyPair(certPath: string, cert: Buffer, keyPath: string, key: Buffer): void {
  const x509 = parsePem(certPath, cert, "certificate") as X509Certificate;
  if (!x509.checkPrivateKey(parsePem(keyPath, key, "private key") as KeyObject))
    throw new Error(`${keyPath} is not the private key of the certificate in ${certPath}`);
}

function parsePem(path: string, pem: Buffer, kind: PemKind): X509Certificate | KeyObject {
  const text = pem.toString("utf8");
  const marker =
    kind === "certificate" ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
  if (!marker.test(text))
    throw new Error(
      `${path} holds no PEM ${kind} (expected a "-----BEGIN ${kind === "certificate" ? "CERTIFICATE" : "PRIVATE KEY"}-----" block)`,
    );
  try {
    if (kind === "certificate") {
      // A bundle may hold several certificates; each must parse.
      const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
      if (blocks.length === 0) throw new Error("no complete CERTIFICATE block");
      const certs = blocks.map((block) => new X509Certificate(block));
      return certs[0] as X509Certificate;
    }
    return createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${path} is not a valid PEM ${kind}: ${(err as Error).message}`);
  }
}
