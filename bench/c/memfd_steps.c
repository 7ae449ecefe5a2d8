/* What one large value costs by memfd, step by step (docs/BENCHMARKS.md, "Large values"): the
 * producer's memfd_create + ftruncate, pwrite, seals + fstat; the consumer's mmap with
 * MAP_POPULATE, copy out, munmap, or pread into a warm or a fresh buffer; the last close,
 * which frees the pages; and the yardstick, a memcpy of the same size walking two 256 MiB
 * buffers (DRAM, not cache). Mean microseconds per step over ITERS values. No broker needed.
 *
 *     gcc -O2 -o memfd_steps bench/c/memfd_steps.c && ./memfd_steps SIZE ITERS
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
int main(int argc,char**argv){
  size_t n = argc>1? strtoull(argv[1],0,0): 1<<20; int iters=argc>2?atoi(argv[2]):300;
  char*src=malloc(n); memset(src,'a',n); char*dst=malloc(n); memset(dst,0,n);
  double t[12]={0};
  size_t BUF=256<<20; char*A=malloc(BUF),*Bf=malloc(BUF); memset(A,1,BUF); memset(Bf,2,BUF);
  for(int i=0;i<iters;i++){
    double a=now();
    int fd=memfd_create("v",MFD_ALLOW_SEALING|MFD_CLOEXEC); ftruncate(fd,n);
    double b=now(); pwrite(fd,src,n,0);
    double c=now(); fcntl(fd,F_ADD_SEALS,F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE|F_SEAL_SEAL);
    struct stat st; fstat(fd,&st);
    double d=now(); char*m=mmap(0,n,PROT_READ,MAP_SHARED|MAP_POPULATE,fd,0);
    double e=now(); memcpy(dst,m,n);
    double f=now(); munmap(m,n);
    double g=now(); pread(fd,dst,n,0);
    double h=now(); char*nb=malloc(n); pread(fd,nb,n,0); double h2=now(); memcpy(dst,nb,n); free(nb); double h3=now(); close(fd);
    double k=now(); size_t at=(i*n)%(BUF-n); memcpy(Bf+at,A+at,n);
    double l=now();
    t[0]+=b-a;t[1]+=c-b;t[2]+=d-c;t[3]+=e-d;t[4]+=f-e;t[5]+=g-f;t[6]+=h-g;t[7]+=k-h3; t[9]+=h2-h; t[10]+=h3-h2;t[8]+=l-k;
  }
  const char*nm[]={"create+ftruncate","pwrite","seal+fstat","mmap POPULATE","memcpy out of map","munmap","pread into buf","close (frees)","DRAM memcpy 256MiB bufs","pread into fresh malloc","copy out of it+free"};
  for(int j=0;j<11;j++) printf("%-26s %8.1f us\n",nm[j],t[j]/iters);
}
