/* A stand-in bcryptprimitives.dll for Wine < 9, which does not ship one. Rust std (>= 1.78)
   imports ProcessPrng from it to seed HashMap keys and the like; without it every Rust program
   exits with code 53 before main. ProcessPrng is documented never to fail; RtlGenRandom
   (SystemFunction036, advapi32) gives the same bytes Wine's own CNG would, at most 2^28 at a time
   (its length is a ULONG). Built and copied into the Wine prefix by tests/windows/run.sh. */
#include <windows.h>

__declspec(dllimport) BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
