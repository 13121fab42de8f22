//! Response bodies and builders, and the one place an S3Error becomes an HTTP response.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use crate::error::S3Error;

pub type S3Response = Response<ResponseBody>;

/// A response body: nothing, bytes in memory, or chunks streamed from storage.
pub enum ResponseBody {
    Empty,
    Full(Option<Bytes>),
    Stream {
        rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
        remaining: u64,
    },
}

impl ResponseBody {
    pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
        ResponseBody::Full(Some(bytes.into()))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            ResponseBody::Empty => Poll::Ready(None),
            ResponseBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Stream { rx, remaining } => match rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(b))) => {
                    *remaining = remaining.saturating_sub(b.len() as u64);
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Empty => true,
            ResponseBody::Full(b) => b.is_none(),
            ResponseBody::Stream { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Empty => SizeHint::with_exact(0),
            ResponseBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ResponseBody::Stream { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}

/// A response with `status` and no body.
pub fn empty(status: StatusCode) -> S3Response {
    let mut resp = Response::new(ResponseBody::Empty);
    *resp.status_mut() = status;
    resp
}

/// A 200 response with an XML document.
pub fn xml(document: String) -> S3Response {
    let mut resp = Response::new(ResponseBody::full(document));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// Adds a header, skipping values that are not valid header text (never panics).
pub fn set_header(resp: &mut S3Response, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        resp.headers_mut().insert(name, value);
    }
}

/// Renders an error: S3 XML body with the right status; HEAD and 304 carry no body.
pub fn error(
    err: &S3Error,
    resource: &str,
    request_id: &str,
    host_id: &str,
    is_head: bool,
) -> S3Response {
    let status = err.code.status();
    let mut resp = if is_head || status == StatusCode::NOT_MODIFIED {
        empty(status)
    } else {
        let mut r = xml(crate::xml::error_document(
            err, resource, request_id, host_id,
        ));
        *r.status_mut() = status;
        r
    };
    for (name, value) in &err.headers {
        set_header(&mut resp, name, value);
    }
    resp
}
