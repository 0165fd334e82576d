"""CUDA memory that another process opens through an IPC handle, for the KServe CUDA shared memory tests.

The CUDA runtime through ctypes: tritonclient's own cuda_shared_memory helpers need the cuda-python package, which
neither host has. available() is False without a GPU (or without libcudart), and the tests then check only the
refusals.
"""
import base64
import ctypes

_H2D, _D2H = 1, 2


def _cudart():
    try:
        import torch  # its wheel loads the libcudart it was built with; take that one

        if torch.cuda.is_available():
            torch.cuda.init()
    except ImportError:
        pass
    for name in ("libcudart.so.13", "libcudart.so.12", "libcudart.so"):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


_lib = _cudart()


def b64(raw):
    """A raw handle as tritonclient's register_cuda_shared_memory takes it (http and grpc alike): base64 text."""
    return base64.b64encode(raw).decode()


def available():
    count = ctypes.c_int(0)
    return _lib is not None and _lib.cudaGetDeviceCount(ctypes.byref(count)) == 0 and count.value > 0


class Allocation:
    """cudaMalloc'd bytes on GPU 0, with the 64-byte cudaIpcMemHandle_t a server opens them by."""

    def __init__(self, byte_size):
        self.byte_size = byte_size
        self.ptr = ctypes.c_void_p()
        _check(_lib.cudaMalloc(ctypes.byref(self.ptr), ctypes.c_size_t(byte_size)), "cudaMalloc")
        handle = (ctypes.c_byte * 64)()
        _check(_lib.cudaIpcGetMemHandle(handle, self.ptr), "cudaIpcGetMemHandle")
        self.raw_handle = bytes(handle)
        self.b64_handle = b64(self.raw_handle)

    def write(self, array):
        data = array.tobytes()
        _check(_lib.cudaMemcpy(self.ptr, data, ctypes.c_size_t(len(data)), _H2D), "cudaMemcpy H2D")

    def read(self, byte_size):
        out = ctypes.create_string_buffer(byte_size)
        _check(_lib.cudaMemcpy(out, self.ptr, ctypes.c_size_t(byte_size), _D2H), "cudaMemcpy D2H")
        return out.raw

    def free(self):
        _lib.cudaFree(self.ptr)


def registered_pair(client, x, out_bytes):
    """GPU memory holding `x` and GPU memory for an output, registered with `client` (http or grpc) as "cin" and
    "cout"; the caller frees both."""
    cuda_in, cuda_out = Allocation(x.nbytes), Allocation(out_bytes)
    cuda_in.write(x)
    client.register_cuda_shared_memory("cin", cuda_in.b64_handle, 0, x.nbytes)
    client.register_cuda_shared_memory("cout", cuda_out.b64_handle, 0, out_bytes)
    return cuda_in, cuda_out


def _check(code, what):
    if code != 0:
        _lib.cudaGetErrorString.restype = ctypes.c_char_p
        raise RuntimeError(f"{what}: {_lib.cudaGetErrorString(code).decode()}")
