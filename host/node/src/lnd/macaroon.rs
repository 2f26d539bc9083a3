//! Macaroons as LND makes them: the libmacaroons HMAC-SHA256 chain, the
//! binary V2 serialization LND writes to `admin.macaroon`, and LND's
//! identifier (version byte 3, then `lnrpc.MacaroonId` with the granted
//! operations).
//!
//! The client needs only to read a macaroon file and send it hex-encoded;
//! it also decodes the identifier so a refusal can say what the macaroon
//! grants. The simulator mints and verifies with the same code, so both
//! sides agree on the format without trusting each other's shortcuts.

use hmac::{Hmac, Mac};
use prost::Message;
use sha2::Sha256;

use super::permissions::Permission;
use crate::lnrpc;

type HmacSha256 = Hmac<Sha256>;

/// The key-derivation constant libmacaroons and go-macaroon use.
const KEY_GENERATOR: &[u8] = b"macaroons-key-generator";
/// LND's macaroon identifier version (bakery's `macaroonIdV3` framing).
const LND_ID_VERSION: u8 = 3;
const V2: u8 = 2;
const FIELD_EOS: u8 = 0;
const FIELD_LOCATION: u8 = 1;
const FIELD_IDENTIFIER: u8 = 2;
const FIELD_VERIFICATION_ID: u8 = 4;
const FIELD_SIGNATURE: u8 = 6;
const SIGNATURE_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacaroonError {
    #[error("not a binary V2 macaroon: {0}")]
    Format(String),
    #[error("third-party caveats are not supported")]
    ThirdPartyCaveat,
    #[error("verification failed: signature mismatch after caveat verification")]
    SignatureMismatch,
    #[error("not an LND macaroon identifier: {0}")]
    Identifier(String),
}

/// A macaroon with first-party caveats only (all LND issues).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macaroon {
    location: String,
    identifier: Vec<u8>,
    caveats: Vec<Vec<u8>>,
    signature: [u8; SIGNATURE_LEN],
}

fn keyed_hash(key: &[u8], data: &[u8]) -> [u8; SIGNATURE_LEN] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The first link of the chain: HMAC of the identifier under the key
/// derived from the root key.
fn identifier_signature(root_key: &[u8], identifier: &[u8]) -> [u8; SIGNATURE_LEN] {
    keyed_hash(&keyed_hash(KEY_GENERATOR, root_key), identifier)
}

impl Macaroon {
    /// A new macaroon signed with `root_key`.
    pub fn mint(root_key: &[u8], identifier: Vec<u8>, location: &str) -> Self {
        let signature = identifier_signature(root_key, &identifier);
        Macaroon {
            location: location.to_owned(),
            identifier,
            caveats: Vec::new(),
            signature,
        }
    }

    /// Restricts the macaroon further; anyone holding it can do this, which
    /// is the point of the HMAC chain.
    pub fn add_first_party_caveat(&mut self, condition: &str) {
        self.signature = keyed_hash(&self.signature, condition.as_bytes());
        self.caveats.push(condition.as_bytes().to_vec());
    }

    pub fn identifier(&self) -> &[u8] {
        &self.identifier
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// The first-party caveat conditions, which a verifier must evaluate.
    pub fn caveats(&self) -> impl Iterator<Item = String> + '_ {
        self.caveats
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
    }

    /// Checks the HMAC chain against `root_key`; the final comparison is
    /// constant-time.
    pub fn verify_signature(&self, root_key: &[u8]) -> Result<(), MacaroonError> {
        let (key, last) = match self.caveats.split_last() {
            None => (
                keyed_hash(KEY_GENERATOR, root_key),
                self.identifier.as_slice(),
            ),
            Some((last, rest)) => (
                rest.iter().fold(
                    identifier_signature(root_key, &self.identifier),
                    |sig, caveat| keyed_hash(&sig, caveat),
                ),
                last.as_slice(),
            ),
        };
        let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC accepts any key length");
        mac.update(last);
        mac.verify_slice(&self.signature)
            .map_err(|_| MacaroonError::SignatureMismatch)
    }

    /// Binary V2 serialization, byte-compatible with go-macaroon.
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = vec![V2];
        if !self.location.is_empty() {
            put_field(&mut out, FIELD_LOCATION, self.location.as_bytes());
        }
        put_field(&mut out, FIELD_IDENTIFIER, &self.identifier);
        out.push(FIELD_EOS);
        for caveat in &self.caveats {
            put_field(&mut out, FIELD_IDENTIFIER, caveat);
            out.push(FIELD_EOS);
        }
        out.push(FIELD_EOS);
        put_field(&mut out, FIELD_SIGNATURE, &self.signature);
        out
    }

    /// Parses binary V2 (what LND writes; it never issues V1).
    pub fn deserialize(bytes: &[u8]) -> Result<Self, MacaroonError> {
        let mut reader = Reader { bytes, pos: 0 };
        if reader.byte()? != V2 {
            return Err(MacaroonError::Format("unsupported version".into()));
        }
        let header = reader.section()?;
        let location = header
            .iter()
            .find(|(t, _)| *t == FIELD_LOCATION)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        let identifier = header
            .iter()
            .find(|(t, _)| *t == FIELD_IDENTIFIER)
            .map(|(_, v)| v.to_vec())
            .ok_or_else(|| MacaroonError::Format("missing identifier".into()))?;
        let mut caveats = Vec::new();
        loop {
            let section = reader.section()?;
            if section.is_empty() {
                break;
            }
            if section.iter().any(|(t, _)| *t == FIELD_VERIFICATION_ID) {
                return Err(MacaroonError::ThirdPartyCaveat);
            }
            let id = section
                .iter()
                .find(|(t, _)| *t == FIELD_IDENTIFIER)
                .ok_or_else(|| MacaroonError::Format("caveat without identifier".into()))?;
            caveats.push(id.1.to_vec());
        }
        let (field, sig) = reader.field()?;
        if field != FIELD_SIGNATURE || sig.len() != SIGNATURE_LEN {
            return Err(MacaroonError::Format(
                "missing or malformed signature".into(),
            ));
        }
        if reader.pos != bytes.len() {
            return Err(MacaroonError::Format("trailing bytes".into()));
        }
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(sig);
        Ok(Macaroon {
            location,
            identifier,
            caveats,
            signature,
        })
    }
}

fn put_field(out: &mut Vec<u8>, field: u8, data: &[u8]) {
    out.push(field);
    let mut len = data.len() as u64;
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(data);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, MacaroonError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| MacaroonError::Format("truncated".into()))?;
        self.pos += 1;
        Ok(b)
    }

    fn uvarint(&mut self) -> Result<usize, MacaroonError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return usize::try_from(value)
                    .map_err(|_| MacaroonError::Format("field too long".into()));
            }
        }
        Err(MacaroonError::Format("varint overflow".into()))
    }

    /// One field, or `(FIELD_EOS, [])` at the end of a section.
    fn field(&mut self) -> Result<(u8, &'a [u8]), MacaroonError> {
        let field = self.byte()?;
        if field == FIELD_EOS {
            return Ok((FIELD_EOS, &[]));
        }
        let len = self.uvarint()?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| MacaroonError::Format("truncated field".into()))?;
        let data = &self.bytes[self.pos..end];
        self.pos = end;
        Ok((field, data))
    }

    fn section(&mut self) -> Result<Vec<(u8, &'a [u8])>, MacaroonError> {
        let mut fields = Vec::new();
        loop {
            let (field, data) = self.field()?;
            if field == FIELD_EOS {
                return Ok(fields);
            }
            fields.push((field, data));
        }
    }
}

/// LND's identifier: version byte 3, then `MacaroonId` with the operations
/// (permissions) granted, grouped by entity as bakery does.
pub fn encode_lnd_identifier(
    nonce: &[u8],
    storage_id: &[u8],
    permissions: &[Permission],
) -> Vec<u8> {
    let mut ops: Vec<lnrpc::Op> = Vec::new();
    for p in permissions {
        match ops.iter_mut().find(|op| op.entity == p.entity) {
            Some(op) => op.actions.push(p.action.clone()),
            None => ops.push(lnrpc::Op {
                entity: p.entity.clone(),
                actions: vec![p.action.clone()],
            }),
        }
    }
    let id = lnrpc::MacaroonId {
        nonce: nonce.to_vec(),
        storage_id: storage_id.to_vec(),
        ops,
    };
    let mut out = vec![LND_ID_VERSION];
    out.extend(id.encode_to_vec());
    out
}

/// Decodes LND's identifier; `storage_id` selects the root key.
pub fn decode_lnd_identifier(identifier: &[u8]) -> Result<lnrpc::MacaroonId, MacaroonError> {
    match identifier.split_first() {
        Some((&LND_ID_VERSION, rest)) => {
            lnrpc::MacaroonId::decode(rest).map_err(|e| MacaroonError::Identifier(e.to_string()))
        }
        _ => Err(MacaroonError::Identifier(
            "unknown identifier version".into(),
        )),
    }
}

/// The permissions an LND identifier grants, one per entity/action pair.
pub fn granted_permissions(id: &lnrpc::MacaroonId) -> Vec<Permission> {
    id.ops
        .iter()
        .flat_map(|op| {
            op.actions
                .iter()
                .map(|action| Permission::new(op.entity.clone(), action.clone()))
        })
        .collect()
}

/// The raw macaroon bytes from a file's contents. LND writes binary; a file
/// holding the hex text `lncli bakemacaroon` prints (without `--save_to`)
/// is accepted too.
pub fn macaroon_bytes(contents: &[u8]) -> Vec<u8> {
    let text = contents.trim_ascii();
    if !text.is_empty()
        && text.iter().all(u8::is_ascii_hexdigit)
        && let Ok(raw) = hex::decode(text)
    {
        return raw;
    }
    contents.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn sample() -> Macaroon {
        let id = encode_lnd_identifier(
            b"nonce-16-bytes!!",
            b"0",
            &[
                Permission::new("info", "read"),
                Permission::new("offchain", "read"),
                Permission::new("offchain", "write"),
            ],
        );
        Macaroon::mint(ROOT, id, "lnd")
    }

    #[test]
    fn round_trips_and_verifies() {
        let m = sample();
        let parsed = Macaroon::deserialize(&m.serialize()).unwrap();
        assert_eq!(parsed, m);
        parsed.verify_signature(ROOT).unwrap();
        assert_eq!(parsed.location(), "lnd");
    }

    #[test]
    fn wrong_root_key_fails() {
        let m = sample();
        assert_eq!(
            m.verify_signature(b"another root key, 32 bytes long!"),
            Err(MacaroonError::SignatureMismatch)
        );
    }

    #[test]
    fn caveats_extend_the_chain_and_survive_serialization() {
        let mut m = sample();
        m.add_first_party_caveat("time-before 2030-01-01T00:00:00Z");
        let parsed = Macaroon::deserialize(&m.serialize()).unwrap();
        parsed.verify_signature(ROOT).unwrap();
        assert_eq!(
            parsed.caveats().collect::<Vec<_>>(),
            ["time-before 2030-01-01T00:00:00Z"]
        );
        // Dropping the caveat (to widen the macaroon) breaks the signature.
        let stripped = Macaroon {
            caveats: Vec::new(),
            ..parsed
        };
        assert!(stripped.verify_signature(ROOT).is_err());
    }

    #[test]
    fn tampered_identifier_fails() {
        let m = sample();
        let mut widened = m.clone();
        widened.identifier = encode_lnd_identifier(
            b"nonce-16-bytes!!",
            b"0",
            &[Permission::new("onchain", "write")],
        );
        assert!(widened.verify_signature(ROOT).is_err());
    }

    #[test]
    fn identifier_lists_permissions() {
        let m = sample();
        let id = decode_lnd_identifier(m.identifier()).unwrap();
        assert_eq!(id.storage_id, b"0");
        assert_eq!(
            granted_permissions(&id),
            [
                Permission::new("info", "read"),
                Permission::new("offchain", "read"),
                Permission::new("offchain", "write"),
            ]
        );
    }

    #[test]
    fn garbage_is_a_format_error() {
        assert!(matches!(
            Macaroon::deserialize(b"\x02\x02\xff"),
            Err(MacaroonError::Format(_))
        ));
        assert!(Macaroon::deserialize(b"").is_err());
    }

    #[test]
    fn hex_files_are_decoded() {
        let raw = sample().serialize();
        let text = format!("{}\n", hex::encode(&raw));
        assert_eq!(macaroon_bytes(text.as_bytes()), raw);
        assert_eq!(macaroon_bytes(&raw), raw);
    }
}
