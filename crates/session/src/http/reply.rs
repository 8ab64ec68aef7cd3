//! Parsing a whole HTTP/1.1 reply: status line, headers, a body framed by
//! `Content-Length`, chunked encoding or the connection's end.

use super::HttpError;

/// Room for the status line and headers on top of a body cap.
pub(crate) const HEAD_ROOM: usize = 16 * 1024;

/// A reply: the body of a 200, or where a redirect points (its
/// `Location`, resolved against the URL asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The body of a 200 reply.
    Body(Vec<u8>),
    /// A 301/302/303/307/308 reply's absolute target.
    Redirect(String),
}

/// Status line, headers (`Content-Length` or chunked), body; a redirect's
/// `Location` as it stands.
pub(crate) fn parse_reply(reply: &[u8]) -> Result<Reply, HttpError> {
    let malformed = |what: &str| HttpError::Malformed(what.to_owned());
    let head_end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| malformed("no end of headers"))?;
    let head = std::str::from_utf8(reply.get(..head_end).unwrap_or_default())
        .map_err(|_| malformed("headers are not text"))?;
    let body = reply.get(head_end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    let header = |name: &str| {
        lines
            .clone()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    if matches!(code, "301" | "302" | "303" | "307" | "308") {
        if let Some(location) = header("location").filter(|l| !l.is_empty()) {
            return Ok(Reply::Redirect(location));
        }
    }
    if code != "200" {
        return Err(HttpError::Status(status.to_owned()));
    }
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(body).map(Reply::Body);
    }
    match header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(len) => body
            .get(..len)
            .map(|b| Reply::Body(b.to_vec()))
            .ok_or_else(|| malformed("short body")),
        None => Ok(Reply::Body(body.to_vec())),
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, HttpError> {
    let malformed = || HttpError::Malformed("bad chunked encoding".into());
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(malformed)?;
        let size_text = std::str::from_utf8(body.get(..line_end).unwrap_or_default())
            .map_err(|_| malformed())?;
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| malformed())?;
        let start = line_end + 2;
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(start..start + size).ok_or_else(malformed)?;
        out.extend_from_slice(chunk);
        body = body.get(start + size + 2..).ok_or_else(malformed)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(
            parse_reply(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n").unwrap(),
            Reply::Redirect("/x".into())
        );
        // A redirect without a Location is just an error status.
        assert!(parse_reply(b"HTTP/1.1 302 Found\r\n\r\n").is_err());
        assert_eq!(
            parse_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap(),
            Reply::Body(b"abc".to_vec())
        );
        assert_eq!(
            parse_reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            Reply::Body(b"abcde".to_vec())
        );
        assert!(matches!(
            parse_reply(b"HTTP/1.1 404 Not Found\r\n\r\n"),
            Err(HttpError::Status(_))
        ));
        assert!(parse_reply(b"garbage").is_err());
        assert!(
            parse_reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
    }
}
