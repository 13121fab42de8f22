// Drives the AWS SDK for JavaScript v3 against Lambucket with its default settings (which send
// aws-chunked bodies with trailing CRC32 checksums, even over plain http). Prints one JSON
// line of results; exits non-zero on any mismatch. Usage: node roundtrip.mjs ENDPOINT BUCKET
import { createHash, randomBytes } from "node:crypto";
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, DeleteObjectCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const [endpoint, bucket] = process.argv.slice(2);
const s3 = new S3Client({
  endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
});
const md5 = (b) => createHash("md5").update(b).digest("hex");
const check = (ok, what) => { if (!ok) { console.error(`FAILED: ${what}`); process.exit(1); } };
const bodyBytes = async (resp) => Buffer.from(await resp.Body.transformToByteArray());

await s3.send(new CreateBucketCommand({ Bucket: bucket }));
const results = {};

for (const [key, size] of [["small.txt", 11], ["one-mib.bin", 1 << 20], ["dir/with space+plus.bin", 70000]]) {
  const data = randomBytes(size);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
  check(put.ETag === `"${md5(data)}"`, `PutObject ETag of ${key}`);
  const got = await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
  check(got.equals(data), `GetObject bytes of ${key}`);
  results[key] = { size, crc32: put.ChecksumCRC32 ?? null };
}

const big = randomBytes(20 * 1024 * 1024);
const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: "multipart/20MiB.bin", Body: big }, partSize: 5 * 1024 * 1024 });
const done = await upload.done();
check(/-\d+"$/.test(done.ETag), `multipart ETag ${done.ETag}`);
const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "multipart/20MiB.bin" }));
check(head.ContentLength === big.length, "multipart size");
check(head.ContentEncoding === undefined, `no aws-chunked content-encoding stored (${head.ContentEncoding})`);
const gotBig = await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "multipart/20MiB.bin" })));
check(gotBig.equals(big), "multipart bytes");
results.multipart = { etag: done.ETag, size: big.length };

const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
const keys = (listed.Contents ?? []).map((o) => o.Key).sort();
check(JSON.stringify(keys) === JSON.stringify(["dir/with space+plus.bin", "multipart/20MiB.bin", "one-mib.bin", "small.txt"]), `listing ${keys}`);
results.listed = keys;

await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "small.txt" }));
const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "small" }));
check((after.KeyCount ?? 0) === 0, "DeleteObject");
console.log(JSON.stringify(results));
