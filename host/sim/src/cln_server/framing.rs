//! CLN's request framing: lightningd reads a stream of JSON objects, one
//! after another, with or without whitespace or newlines between them,
//! compact or pretty-printed; it answers each with a JSON object followed by
//! `"\n\n"`. So requests are cut by parsing, not by delimiters.

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

/// A connection's bytes do not hold a request.
#[derive(Debug, thiserror::Error)]
pub(super) enum FramingError {
    #[error("Invalid token in json input: {0}")]
    Syntax(String),
    #[error("request larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("reading the socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Largest request accepted; ours are a few hundred bytes.
const MAX_REQUEST: usize = 1 << 20;

/// Splits a byte stream into JSON values.
pub(super) struct RequestReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> RequestReader<R> {
    pub(super) fn new(inner: R) -> Self {
        RequestReader {
            inner,
            buf: Vec::new(),
        }
    }

    /// The next value, or `None` once the peer closed the connection between
    /// requests (a request cut short by the close is dropped, as lightningd does).
    pub(super) async fn next(&mut self) -> Result<Option<Value>, FramingError> {
        loop {
            let start = self
                .buf
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(self.buf.len());
            self.buf.drain(..start);
            if !self.buf.is_empty() {
                let mut values =
                    serde_json::Deserializer::from_slice(&self.buf).into_iter::<Value>();
                match values.next() {
                    Some(Ok(value)) => {
                        let used = values.byte_offset();
                        self.buf.drain(..used);
                        return Ok(Some(value));
                    }
                    Some(Err(e)) if e.is_eof() => {}
                    Some(Err(e)) => {
                        let shown = String::from_utf8_lossy(&self.buf[..self.buf.len().min(64)]);
                        return Err(FramingError::Syntax(format!("'{shown}': {e}")));
                    }
                    None => {}
                }
            }
            if self.buf.len() > MAX_REQUEST {
                return Err(FramingError::TooLarge { limit: MAX_REQUEST });
            }
            let mut chunk = [0u8; 8192];
            let n = self.inner.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(input: &[u8]) -> (Vec<Value>, Option<String>) {
        let mut reader = RequestReader::new(input);
        let mut out = Vec::new();
        loop {
            match reader.next().await {
                Ok(Some(v)) => out.push(v),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    #[tokio::test]
    async fn splits_compact_pretty_and_back_to_back_requests() {
        let input = b"{\"id\":1}{\"id\":2}\n\n  {\n  \"id\": 3,\n  \"params\": [1, 2]\n}\n";
        let (values, err) = all(input).await;
        assert_eq!(err, None);
        let ids: Vec<_> = values.iter().map(|v| v["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, [1, 2, 3]);
    }

    #[tokio::test]
    async fn a_request_split_across_reads_is_reassembled() {
        let (client, server) = tokio::io::duplex(4);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut client = client;
            client
                .write_all(b"{\"method\":\"getinfo\",\"id\":\"a\"}")
                .await
                .unwrap();
        });
        let mut reader = RequestReader::new(server);
        let v = reader.next().await.unwrap().unwrap();
        assert_eq!(v["method"], "getinfo");
        writer.await.unwrap();
        assert!(reader.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn garbage_is_a_syntax_error() {
        let (values, err) = all(b"{\"id\":1} nonsense").await;
        assert_eq!(values.len(), 1);
        assert!(err.unwrap().starts_with("Invalid token in json input"));
    }
}
