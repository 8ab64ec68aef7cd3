//! Just enough XML for UPnP: the inner text of elements by local name
//! (namespace prefixes ignored), with the five predefined entities decoded.
//! Elements of one name must not nest, which holds for every element UPnP
//! reads here (`service`, `serviceType`, `controlURL`, SOAP arguments).
//! Inputs are already bounded by [`crate::limits::MAX_HTTP_BODY`].

/// The inner text of each `<name>` element in `doc`, in order.
pub(crate) fn elements<'a>(doc: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let rest = doc.get(at..)?;
            let open = rest.find('<')?;
            let tag_start = at + open + 1;
            let tail = doc.get(tag_start..)?;
            let tag_end = tail.find('>')?;
            let tag = tail.get(..tag_end)?;
            at = tag_start + tag_end + 1;
            if tag.starts_with(['/', '?', '!']) {
                continue;
            }
            let full = tag.split(|c: char| c.is_whitespace() || c == '/').next()?;
            if local(full) != name {
                continue;
            }
            if tag.ends_with('/') {
                return Some("");
            }
            let body = doc.get(at..)?;
            let close = find_close(body, name)?;
            let inner = body.get(..close.0)?;
            at += close.1;
            return Some(inner);
        }
    })
}

/// The first `<name>` element's text, trimmed and with entities decoded.
pub(crate) fn text(doc: &str, name: &str) -> Option<String> {
    elements(doc, name).next().map(|t| decode(t.trim()))
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Where `</prefix:name>` starts in `body` and where it ends.
fn find_close(body: &str, name: &str) -> Option<(usize, usize)> {
    let mut at = 0;
    loop {
        let start = at + body.get(at..)?.find("</")?;
        let after = body.get(start + 2..)?;
        let end = after.find('>')?;
        let tag = after.get(..end)?.trim();
        if local(tag) == name {
            return Some((start, start + 2 + end + 1));
        }
        at = start + 2;
    }
}

/// Decodes `&lt;` `&gt;` `&amp;` `&quot;` `&apos;`; anything else is kept.
pub(crate) fn decode(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Escapes text for an XML element.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_elements_by_local_name() {
        let doc = "<?xml version=\"1.0\"?><s:Envelope><s:Body><u:R xmlns:u=\"x\"><A>1</A><B/><A> 2 &amp; 3 </A></u:R></s:Body></s:Envelope>";
        assert_eq!(
            elements(doc, "A").collect::<Vec<_>>(),
            vec!["1", " 2 &amp; 3 "]
        );
        assert_eq!(text(doc, "B").as_deref(), Some(""));
        assert_eq!(
            text(doc, "R").as_deref(),
            Some("<A>1</A><B/><A> 2 & 3 </A>")
        );
        assert_eq!(decode("2 &amp; 3 &lt;"), "2 & 3 <");
        assert_eq!(text(doc, "C"), None);
        assert_eq!(text("<A>unclosed", "A"), None);
        assert_eq!(text("<A", "A"), None);
    }
}
