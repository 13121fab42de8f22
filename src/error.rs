//! The one error type of the S3 layer: an S3 error code, its HTTP status, and the details
//! that end up in the XML body. `http::response` renders it, nowhere else.

use std::fmt;

use http::StatusCode;

macro_rules! s3_codes {
    ($($name:ident => $status:expr, $msg:expr;)*) => {
        /// S3 error codes this server returns, with the status S3 gives each one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum S3ErrorCode { $($name),* }

        impl S3ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$name => stringify!($name)),* }
            }
            pub fn status(self) -> StatusCode {
                match self { $(Self::$name => $status),* }
            }
            /// The generic message S3 gives when nothing more specific is known.
            pub fn default_message(self) -> &'static str {
                match self { $(Self::$name => $msg),* }
            }
        }
    };
}

s3_codes! {
    AccessDenied => StatusCode::FORBIDDEN, "Access Denied";
    AuthorizationHeaderMalformed => StatusCode::BAD_REQUEST, "The authorization header is malformed.";
    AuthorizationQueryParametersError => StatusCode::BAD_REQUEST, "Query-string authentication parameters are malformed.";
    BadDigest => StatusCode::BAD_REQUEST, "The Content-MD5 you specified did not match what we received.";
    BucketAlreadyOwnedByYou => StatusCode::CONFLICT, "Your previous request to create the named bucket succeeded and you already own it.";
    BucketNotEmpty => StatusCode::CONFLICT, "The bucket you tried to delete is not empty";
    EntityTooSmall => StatusCode::BAD_REQUEST, "Your proposed upload is smaller than the minimum allowed object size.";
    EntityTooLarge => StatusCode::BAD_REQUEST, "Your proposed upload exceeds the maximum allowed object size.";
    IncompleteBody => StatusCode::BAD_REQUEST, "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    InternalError => StatusCode::INTERNAL_SERVER_ERROR, "We encountered an internal error. Please try again.";
    InvalidAccessKeyId => StatusCode::FORBIDDEN, "The AWS Access Key Id you provided does not exist in our records.";
    InvalidArgument => StatusCode::BAD_REQUEST, "Invalid Argument";
    InvalidBucketName => StatusCode::BAD_REQUEST, "The specified bucket is not valid.";
    InvalidDigest => StatusCode::BAD_REQUEST, "The Content-MD5 you specified is not valid.";
    InvalidPart => StatusCode::BAD_REQUEST, "One or more of the specified parts could not be found.";
    InvalidPartNumber => StatusCode::RANGE_NOT_SATISFIABLE, "The requested partnumber is not satisfiable";
    InvalidPartOrder => StatusCode::BAD_REQUEST, "The list of parts was not in ascending order. Parts must be ordered by part number.";
    InvalidLocationConstraint => StatusCode::BAD_REQUEST, "The specified location-constraint is not valid";
    InvalidRange => StatusCode::RANGE_NOT_SATISFIABLE, "The requested range is not satisfiable";
    InvalidRequest => StatusCode::BAD_REQUEST, "Invalid Request";
    KeyTooLongError => StatusCode::BAD_REQUEST, "Your key is too long";
    MetadataTooLarge => StatusCode::BAD_REQUEST, "Your metadata headers exceed the maximum allowed metadata size.";
    MalformedXML => StatusCode::BAD_REQUEST, "The XML you provided was not well-formed or did not validate against our published schema";
    MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED, "The specified method is not allowed against this resource.";
    MissingContentLength => StatusCode::LENGTH_REQUIRED, "You must provide the Content-Length HTTP header.";
    NoSuchBucket => StatusCode::NOT_FOUND, "The specified bucket does not exist";
    NoSuchUpload => StatusCode::NOT_FOUND, "The specified multipart upload does not exist.";
    NoSuchKey => StatusCode::NOT_FOUND, "The specified key does not exist.";
    NotImplemented => StatusCode::NOT_IMPLEMENTED, "A header you provided implies functionality that is not implemented";
    NotModified => StatusCode::NOT_MODIFIED, "Not Modified";
    PreconditionFailed => StatusCode::PRECONDITION_FAILED, "At least one of the pre-conditions you specified did not hold";
    RequestTimeTooSkewed => StatusCode::FORBIDDEN, "The difference between the request time and the current time is too large.";
    RequestTimeout => StatusCode::BAD_REQUEST, "Your socket connection to the server was not read from or written to within the timeout period.";
    SignatureDoesNotMatch => StatusCode::FORBIDDEN, "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
    XAmzContentSHA256Mismatch => StatusCode::BAD_REQUEST, "The provided 'x-amz-content-sha256' header does not match what was computed.";
}

/// An S3 error as the client will see it.
#[derive(Debug, Clone)]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: String,
    /// Extra XML elements after Message (BucketName, Key, ArgumentName, …).
    pub details: Vec<(&'static str, String)>,
    /// Response headers that belong with this error (e.g. ETag on 304).
    pub headers: Vec<(&'static str, String)>,
}

pub type S3Result<T> = Result<T, S3Error>;

impl S3Error {
    pub fn new(code: S3ErrorCode) -> Self {
        Self::with_message(code, code.default_message())
    }

    pub fn with_message(code: S3ErrorCode, message: impl Into<String>) -> Self {
        S3Error {
            code,
            message: message.into(),
            details: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn detail(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn internal(err: impl fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(S3ErrorCode::InternalError)
    }

    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(S3ErrorCode::NoSuchBucket).detail("BucketName", bucket)
    }

    pub fn no_such_key(key: &str) -> Self {
        Self::new(S3ErrorCode::NoSuchKey).detail("Key", key)
    }

    pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> Self {
        Self::with_message(S3ErrorCode::InvalidArgument, message)
            .detail("ArgumentName", name)
            .detail("ArgumentValue", value)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::with_message(S3ErrorCode::InvalidRequest, message)
    }

    pub fn not_implemented(what: &str) -> Self {
        Self::with_message(
            S3ErrorCode::NotImplemented,
            format!("{what} is not implemented by Lambucket yet"),
        )
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        S3Error::new(code)
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for S3Error {}

impl From<crate::storage::StorageError> for S3Error {
    fn from(err: crate::storage::StorageError) -> Self {
        S3Error::internal(err)
    }
}
