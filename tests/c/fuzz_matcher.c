/* The C matcher on its own, under AddressSanitizer and UBSan (see
 * tests/test_matcher_c.py): random pattern sets and data, every occurrence
 * compared with a naive search, under each probe kernel the CPU has, whole
 * and streamed in exact-size heap chunks so any read past a chunk is caught. */
#include "matcher.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static uint64_t rs=88172645463325252ull; static uint64_t rnd(void){rs^=rs<<13;rs^=rs>>7;rs^=rs<<17;return rs;}
int main(int argc,char**argv){
  int iters=argc>1?atoi(argv[1]):200;
  for(int it=0;it<iters;it++){
    uint32_t np=1+rnd()%300; int alpha=(int)(rnd()%3); int maxlen=2+rnd()%70;
    uint64_t *off=malloc(8*(np+1)); uint8_t *blob=malloc(np*maxlen+1); off[0]=0; size_t bl=0;
    for(uint32_t p=0;p<np;p++){ int L=2+rnd()%(maxlen-1); for(int j=0;j<L;j++){ uint8_t b=alpha==0?(uint8_t)(rnd()%2):alpha==1?(uint8_t)(rnd()%4==0?rnd():0):(uint8_t)rnd(); blob[bl++]=b;} off[p+1]=bl; }
    size_t n=rnd()%5000; uint8_t *d=malloc(n+1);
    for(size_t i=0;i<n;i++) d[i]=alpha==0?(uint8_t)(rnd()%2):alpha==1?(uint8_t)(rnd()%4==0?rnd():0):(uint8_t)rnd();
    for(int k=0;k<5 && n>100;k++){ uint32_t p=rnd()%np; size_t L=off[p+1]-off[p]; if(L<n){ size_t at=rnd()%(n-L); memcpy(d+at,blob+off[p],L);} }
    avg_compiled cm; if(avg_compile(blob,off,np,NULL,&cm)){printf("compile fail\n");return 1;}
    /* naive */
    size_t nexp=0; for(size_t e=1;e<=n;e++) for(uint32_t p=0;p<np;p++){ size_t L=off[p+1]-off[p]; if(L<=e && !memcmp(d+e-L,blob+off[p],L)) nexp++; }
    for(int kern=0;kern<2;kern++){
      if(avg_set_kernel(kern?"avx512":"scalar")!=0) continue; /* CPU without AVX-512 */
      avg_match_buf mb={0}; avg_scan(&cm.m,d,n,0,&mb);
      if(mb.len!=nexp){printf("it %d kernel %d: got %zu expected %zu\n",it,kern,mb.len,nexp);return 1;}
      for(size_t i=0;i<mb.len;i++){ uint32_t p=mb.items[i].pattern; size_t L=off[p+1]-off[p]; if(mb.items[i].end<L||memcmp(d+mb.items[i].end-L,blob+off[p],L)){printf("bad match\n");return 1;} if(i&&mb.items[i-1].end>mb.items[i].end){printf("unsorted\n");return 1;} }
      avg_match_buf_free(&mb);
      avg_stream *s=avg_stream_new(&cm.m,0); size_t pos=0; while(pos<n){ size_t c=1+rnd()%(rnd()%2?7:700); if(pos+c>n)c=n-pos; uint8_t *tmp=malloc(c+1); memcpy(tmp,d+pos,c); avg_stream_feed(s,tmp,c); free(tmp); pos+=c; }
      if(s->matches.len!=nexp){printf("stream it %d: got %zu expected %zu\n",it,s->matches.len,nexp);return 1;}
      avg_stream_free(s);
    }
    avg_compiled_free(&cm); free(off); free(blob); free(d);
  }
  printf("ok %d iterations\n",iters); return 0;
}
