"""edgeserve's src/proto against tritonclient's generated stubs: every message, enum and field edgeserve declares
exists in Triton's descriptors with the same number, type, label and message type, and every RPC has the same
request and response types, so tritonclient.grpc and edgeserve agree on the wire.

Usage: kserve_grpc_proto_test.py PROTOC PROTO_DIR   (exit 77: no tritonclient.grpc)
"""
import os
import subprocess
import sys
import tempfile

try:
    from google.protobuf import descriptor_pb2
    from tritonclient.grpc import model_config_pb2, service_pb2
except ImportError as e:
    print(f"SKIP: {e} (scripts/setup.sh installs tritonclient[grpc] into build/venv)")
    sys.exit(77)


def flatten(files):
    """{full name: (kind, details)} for messages, fields, enums, enum values and methods."""
    out = {}

    def message(prefix, m):
        name = f"{prefix}.{m.name}"
        out[name] = ("message",)
        for f in m.field:
            oneof = m.oneof_decl[f.oneof_index].name if f.HasField("oneof_index") else ""
            out[f"{name}.{f.name}"] = ("field", f.number, f.type, f.label, f.type_name, oneof)
        for e in m.enum_type:
            enum(name, e)
        for n in m.nested_type:
            message(name, n)

    def enum(prefix, e):
        for v in e.value:
            out[f"{prefix}.{e.name}.{v.name}"] = ("enum value", v.number)

    for fd in files:
        prefix = "." + fd.package
        for m in fd.message_type:
            message(prefix, m)
        for e in fd.enum_type:
            enum(prefix, e)
        for s in fd.service:
            for r in s.method:
                out[f"{prefix}.{s.name}/{r.name}"] = ("rpc", r.input_type, r.output_type, r.client_streaming,
                                                      r.server_streaming)
    return out


def main():
    protoc, proto_dir = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ours.pb")
        subprocess.run([protoc, f"-I{proto_dir}", f"--descriptor_set_out={out}", "grpc_service.proto",
                        "model_config.proto"], check=True)
        ours = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            ours.ParseFromString(f.read())
    theirs = []
    for module in (model_config_pb2, service_pb2):
        fd = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(fd)
        theirs.append(fd)
    mine, ref = flatten(ours.file), flatten(theirs)
    wrong = [f"{k}: ours {v}, tritonclient's {ref.get(k, 'absent')}" for k, v in mine.items() if ref.get(k) != v]
    for w in wrong:
        print("MISMATCH", w)
    needed = ["ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer", "ModelConfig",
              "ModelStatistics", "SystemSharedMemoryStatus", "SystemSharedMemoryRegister",
              "SystemSharedMemoryUnregister", "CudaSharedMemoryStatus", "CudaSharedMemoryRegister",
              "CudaSharedMemoryUnregister"]
    missing = [r for r in needed if f".inference.GRPCInferenceService/{r}" not in mine]
    for m in missing:
        print("MISSING rpc", m)
    print(f"{len(mine)} names checked against tritonclient's descriptors")
    return 1 if wrong or missing else 0


if __name__ == "__main__":
    sys.exit(main())
