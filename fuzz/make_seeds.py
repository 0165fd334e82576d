#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora under fuzz/corpus/<target>/ (small valid and invalid inputs; run from anywhere).

The byte layouts mirror src/core/wire.cpp (little-endian, fixed offsets). Re-running rewrites the same files;
regression seeds for bugs the fuzzers found are listed at the end of each group.
"""
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"
REQ_MAGIC, RESP_MAGIC, VERSION = 0x51525345, 0x53525345, 3
UINT8, FLOAT32, FLOAT16, INT32 = 1, 2, 3, 4
RAW, PREPROCESSED, JPEG = 1, 2, 3
SIZE = {UINT8: 1, FLOAT32: 4, FLOAT16: 2, INT32: 4}
NONE, ARGMAX, TOPK = 1, 2, 3  # postprocessing codes (0: the model's default)


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def dims(shape):
    return struct.pack("<8q", *(list(shape) + [0] * (8 - len(shape))))


def request(shape, dtype=FLOAT32, kind=PREPROCESSED, model=b"tiny", payload_bytes=None, magic=REQ_MAGIC,
            version=VERSION, declared=176, rid=42, rank=None, select=0, out_dtype=0, post=0, k=0, reserved=0):
    if payload_bytes is None:
        payload_bytes = numel(shape) * SIZE.get(dtype, 1)
    b = struct.pack("<IHHQIBBBB", magic, version, declared, rid, 7, kind, dtype, 0,
                    len(shape) if rank is None else rank)
    b += dims(shape) + struct.pack("<QQ", payload_bytes % 2**64, 123456789)
    b += model[:56].ljust(56, b"\0")
    b += struct.pack("<BBBxH", select, out_dtype, post, k) + bytes([reserved]) + bytes(9)  # version 3: output choice
    assert len(b) == 176
    return b


def response(outputs, status=0, error=b"", payload_bytes=None, n_outputs=None, err_len=None, magic=RESP_MAGIC):
    if payload_bytes is None:
        payload_bytes = sum(numel(s) * SIZE.get(t, 1) for t, s in outputs)
    b = struct.pack("<IHHQHBxxxxx", magic, VERSION, 968, 42, status, len(outputs) if n_outputs is None else n_outputs)
    b += struct.pack("<17Q", *range(1000, 18000, 1000))  # timings (batching, batch size and decode time last)
    b += struct.pack("<Q", payload_bytes % 2**64)
    for t, s in outputs:
        b += struct.pack("<BB6x", t, len(s)) + dims(s)
    b = b.ljust(168 + 8 * 72, b"\0")
    b += struct.pack("<H", len(error) if err_len is None else err_len) + error.ljust(214, b"\0")
    b += struct.pack("<Q", 18000)  # postprocessing-time, after the error text
    assert len(b) == 968
    return b


def write(target, name, data):
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def main():
    t = "wire_request_fuzzer"  # a 176-byte header followed by the payload
    write(t, "valid_preprocessed", request([1, 3, 2, 2]) + bytes(48))
    write(t, "valid_raw_uint8", request([4, 4, 3], UINT8, RAW) + bytes(48))
    write(t, "valid_float16_no_payload", request([1, 8], FLOAT16))
    write(t, "valid_jpeg_argmax", request([64], UINT8, JPEG, post=ARGMAX) + bytes(64))
    write(t, "payload_short", request([1, 3, 2, 2]) + bytes(40))
    write(t, "bad_magic", request([1, 3, 2, 2], magic=0xDEADBEEF))
    write(t, "bad_version", request([1, 3, 2, 2], version=9))
    write(t, "declared_size_wrong", request([1, 3, 2, 2], declared=177))
    write(t, "valid_argmax_first_output", request([1, 3, 2, 2], select=1, post=ARGMAX) + bytes(48))
    write(t, "valid_topk5_float16", request([1, 3, 2, 2], out_dtype=FLOAT16, post=TOPK, k=5) + bytes(48))
    write(t, "topk_without_k", request([1, 3, 2, 2], post=TOPK) + bytes(48))
    write(t, "k_without_topk", request([1, 3, 2, 2], k=3) + bytes(48))
    write(t, "bad_postprocess", request([1, 3, 2, 2], post=9) + bytes(48))
    write(t, "bad_output_dtype", request([1, 3, 2, 2], out_dtype=UINT8) + bytes(48))
    write(t, "reserved_not_zero", request([1, 3, 2, 2], reserved=1) + bytes(48))
    write(t, "truncated", request([1, 3, 2, 2])[:100])
    write(t, "bad_kind_dtype", request([1], dtype=9, kind=0))
    write(t, "rank_9", request([1] * 8, rank=9))
    write(t, "negative_dim", request([1, -3]))
    write(t, "name_not_terminated", request([2], model=b"m" * 56))
    write(t, "size_mismatch", request([1, 3, 2, 2], payload_bytes=47))
    # Regression (tensor_bytes wrapped): 2^62 float32 elements are 2^64 bytes, which wrapped to 0 and was accepted.
    write(t, "regress_bytes_wrap_2p62_float32", request([2**31, 2**31], FLOAT32, payload_bytes=0))

    t = "wire_response_fuzzer"  # one 968-byte header
    write(t, "valid_one_output", response([(FLOAT32, [1, 10])]))
    write(t, "valid_three_outputs", response([(FLOAT32, [1, 255, 52, 52]), (FLOAT16, [1, 255, 26, 26]),
                                              (UINT8, [1, 255, 13, 13])]))
    write(t, "valid_topk_ids_scores", response([(INT32, [1, 5]), (FLOAT16, [1, 5])]))
    write(t, "valid_error", response([], status=6, error=b"unknown model 'x': the repository has tiny"))
    write(t, "bad_status", response([], status=99))
    write(t, "too_many_outputs", response([], n_outputs=9))
    write(t, "error_too_long", response([], err_len=255))
    write(t, "sum_mismatch", response([(FLOAT32, [1, 10])], payload_bytes=39))
    write(t, "bad_magic", response([], magic=0x51525345))
    write(t, "truncated", response([(FLOAT32, [1, 10])])[:500])
    # Regression (sum of outputs wrapped): two outputs of 2^63 bytes each "add up" to a payload of 0 bytes.
    write(t, "regress_sum_wrap_2x2p63", response([(FLOAT32, [2**61]), (FLOAT32, [2**61])], payload_bytes=0))
    # Regression (tensor_bytes wrapped): one output of 2^62 float32 elements declared as 0 payload bytes.
    write(t, "regress_bytes_wrap_2p62_float32", response([(FLOAT32, [2**31, 2**31])], payload_bytes=0))

    t = "manifest_fuzzer"  # the text of manifest.json
    model = {"name": "tiny", "file": "tiny.pt", "task": "classification",
             "input": {"shape": [1, 3, 32, 32], "dtype": "float32"},
             "preprocessing": {"kind": "imagenet", "resize": [32, 32], "mean": [0.485, 0.456, 0.406],
                               "std": [0.229, 0.224, 0.225]},
             "outputs": [{"name": "logits", "shape": [1, 10], "dtype": "float32"}],
             "exported_with": {"torch": "1.13.0a0", "torchvision": "0.14.1a0"}}
    yolo = {"name": "yolov4", "file": "yolov4.pt", "input": {"shape": [1, 3, 416, 416]},
            "memory_format": "channels_last", "preprocessing": {"kind": "none"},
            "outputs": [{"name": n, "shape": [1, 255, s, s]} for n, s in (("p3", 52), ("p4", 26), ("p5", 13))]}
    write(t, "valid_tiny.json", json.dumps({"format": 1, "models": [model]}, indent=2))
    write(t, "valid_two.json", json.dumps({"format": 1, "models": [model, yolo]}))
    write(t, "valid_empty.json", '{"format": 1, "models": []}')
    seg = dict(yolo, name="seg", outputs=[{"name": "out", "shape": [1, 21, 8, 8]}, {"name": "aux", "shape": [1, 21, 8, 8]}],
               reply={"outputs": ["out"], "dtype": "float16", "postprocess": "topk", "k": 3})
    write(t, "valid_reply_choice.json", json.dumps({"format": 1, "models": [seg]}))
    write(t, "reply_unknown_output.json", json.dumps({"format": 1, "models": [dict(seg, reply={"outputs": ["x"]})]}))
    write(t, "reply_bad_postprocess.json", json.dumps({"format": 1, "models": [dict(seg, reply={"postprocess": "sort"})]}))
    write(t, "bad_format.json", '{"format": 2, "models": []}')
    write(t, "not_object.json", "[1, 2, 3]")
    write(t, "syntax_error.json", '{"format": 1, "models": [')
    write(t, "bad_dtype.json", json.dumps({"format": 1, "models": [dict(model, input={"shape": [1], "dtype": "int4"})]}))
    write(t, "rank_9.json", json.dumps({"format": 1, "models": [dict(model, input={"shape": [1] * 9})]}))
    write(t, "preprocess_bad_shape.json", json.dumps({"format": 1, "models": [dict(model, input={"shape": [3, 32]})]}))
    write(t, "nine_outputs.json", json.dumps({"format": 1, "models": [dict(model, outputs=[{"shape": [1]}] * 9)]}))
    # Regression (float-to-integer UB): a dimension or the format given as a huge floating-point number.
    write(t, "regress_float_dim.json", '{"format": 1, "models": [{"name": "m", "file": "m.pt", "input": {"shape": [1e300]}}]}')
    write(t, "regress_float_format.json", '{"format": 1e300, "models": []}')
    # Regression (float-to-int and double-to-float UB, a CI fuzz run): top-k's k or a channel mean beyond range.
    write(t, "regress_float_topk_k.json", json.dumps({"format": 1, "models": [dict(seg, reply={"postprocess": "topk"})]})
          .replace('"topk"}', '"topk", "k": 3.1e301}'))
    write(t, "regress_float_mean.json", json.dumps({"format": 1, "models": [model]}).replace("0.485", "3.1e301"))



def jpeg_seeds():
    t = "jpeg_decoder_fuzzer"  # what a client sends as JPEG input (PIL makes the valid ones)
    try:
        from PIL import Image
    except ImportError:
        print("no PIL (python3-pil): jpeg_decoder_fuzzer seeds not rewritten")
        return
    import io
    def encode(w, h, **kw):
        img = Image.new("RGB", (w, h))
        img.putdata([((x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256) for y in range(h) for x in range(w)])
        out = io.BytesIO()
        img.save(out, "JPEG", **kw)
        return out.getvalue()
    base = encode(32, 24, quality=90)
    write(t, "valid_32x24_q90.jpg", base)
    write(t, "valid_17x9_q50_444.jpg", encode(17, 9, quality=50, subsampling=0))
    write(t, "valid_progressive.jpg", encode(40, 30, quality=75, progressive=True))
    gray = io.BytesIO()
    Image.new("L", (16, 16), 128).save(gray, "JPEG")
    write(t, "valid_gray.jpg", gray.getvalue())
    write(t, "truncated_half.jpg", base[: len(base) // 2])
    write(t, "soi_only.jpg", base[:2])
    write(t, "not_jpeg.bin", b"\x89PNG\r\n\x1a\n" + bytes(24))
    huge = bytearray(base)
    sof = huge.find(b"\xff\xc0")
    huge[sof + 5:sof + 9] = struct.pack(">HH", 9000, 9000)  # a header declaring more than 8192 per side
    write(t, "declares_9000x9000.jpg", bytes(huge))


def kserve_seeds():
    """kserve_request_fuzzer: byte 0 bit 0 says an Inference-Header-Content-Length follows in bytes 1-2 (LE)."""
    t = "kserve_request_fuzzer"

    def seed(name, body, header_length=None):
        prefix = bytes([1]) + struct.pack("<H", header_length) if header_length is not None else b"\0\0\0"
        write(t, name, prefix + body)

    j = json.dumps({"id": "1", "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 2], "data": [1.5, 2]}],
                    "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}).encode()
    seed("json_fp32.bin", j)
    j = json.dumps({"inputs": [{"name": "input", "datatype": "FP16", "shape": [2, 2], "data": [[1, 2], [3, 4]]}],
                    "parameters": {"binary_data_output": True, "edgeserve_input_kind": "raw", "edgeserve_topk": 5,
                                   "edgeserve_postprocess": "topk", "edgeserve_output_dtype": "float16"}}).encode()
    seed("json_nested_fp16.bin", j)
    j = json.dumps({"inputs": [{"name": "input", "datatype": "UINT8", "shape": [4],
                                "parameters": {"binary_data_size": 4}}]}).encode()
    seed("binary_uint8.bin", j + b"\1\2\3\4", len(j))
    j = json.dumps({"inputs": [{"name": "a", "datatype": "INT32", "shape": [1], "parameters": {"binary_data_size": 4}},
                               {"name": "b", "datatype": "INT64", "shape": [1], "data": [7]}]}).encode()
    seed("two_inputs.bin", j + b"\0\0\0\0", len(j))
    r = json.dumps({"model_name": "tiny", "outputs": [{"name": "logits", "datatype": "FP32", "shape": [1, 2],
                    "parameters": {"binary_data_size": 8}}], "parameters": {"edgeserve_queue_ns": 5}}).encode()
    seed("reply_binary.bin", r + bytes(8), len(r))
    seed("not_json.bin", b'{"inputs": [')


def kserve_grpc_seeds():
    """kserve_grpc_fuzzer: byte 0 % 3 cuts, bytes 1-2 where; then a serialized inference.ModelInferRequest (hand-made
    protobuf wire format, field numbers as src/proto/grpc_service.proto)."""
    t = "kserve_grpc_fuzzer"

    def varint(n):
        out = b""
        while True:
            b, n = n & 0x7F, n >> 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out

    def ld(number, payload):  # a length-delimited field: strings, bytes, messages, packed repeated scalars
        return varint(number << 3 | 2) + varint(len(payload)) + payload

    def request(raw=(bytes(192),), fields_first=True, extra=b""):
        tensor = ld(1, b"input") + ld(2, b"FP32") + ld(3, b"".join(varint(d) for d in (1, 3, 4, 4)))
        fields = (ld(1, b"tiny") + ld(3, b"42") + ld(4, ld(1, b"edgeserve_priority") + ld(2, varint(5 << 3) + varint(1)))
                  + ld(5, tensor) + ld(6, ld(1, b"logits")) + extra)
        raws = b"".join(ld(7, r) for r in raw)
        return fields + raws if fields_first else raws + fields

    write(t, "one_tensor.bin", b"\0\0\0" + request())
    write(t, "cut_twice.bin", b"\2\x17\x90" + request(raw=(bytes(range(256)) * 2,)))
    write(t, "tensor_first.bin", b"\1\x05\0" + request(fields_first=False))
    write(t, "two_tensors.bin", b"\0\0\0" + request(raw=(bytes(16), bytes(16))))
    write(t, "no_tensor.bin", b"\0\0\0" + request(raw=()))
    write(t, "truncated_tensor.bin", b"\0\0\0" + request()[:-50])
    write(t, "unknown_fields.bin", b"\0\0\0" + request(extra=varint(99 << 3) + varint(7) + varint(100 << 3 | 5) + bytes(4)))
    write(t, "length_past_end.bin", b"\0\0\0" + varint(7 << 3 | 2) + varint(1 << 30) + bytes(8))


if __name__ == "__main__":
    main()
    jpeg_seeds()
    kserve_seeds()
    kserve_grpc_seeds()
