#!/usr/bin/env python3
"""Print guest.S as the commented C byte array pasted into tinyvmm.c (guest_image[]).

Usage (from scripts/kvm-guest, needs binutils):
  as --32 -al=guest.lst -o guest.o guest.S && ld -m elf_i386 -Ttext=0x1000 -o guest.elf guest.o
  objcopy -O binary guest.elf guest.bin && python3 gen-guest-array.py guest.lst guest.bin
"""
import re
import sys

lst_path, bin_path = (sys.argv[1:3] if len(sys.argv) >= 3 else ('guest.lst', 'guest.bin'))
raw=open(bin_path,'rb').read()
rows=[]  # (offset, source)
pending_labels=[]
for line in open(lst_path):
    m=re.match(r'^\s*\d+ ([0-9a-f]{4}) [0-9A-F]+\s*\t(.*)$',line.rstrip('\n'))
    if not m:
        m2=re.match(r'^\s*\d+\s+\t(\w+):\s*(/\*.*\*/)?\s*$',line.rstrip('\n'))
        if m2 and m2.group(1)!='_start': pending_labels.append(m2.group(1)+':'+(' '+m2.group(2)[2:-2].strip() if m2.group(2) else ''))
        continue
    off=int(m.group(1),16); src=m.group(2).strip()
    lm=re.match(r'^(\w+|\d+):\s*(.*)$',src)
    if lm: pending_labels.append(lm.group(1)+':'); src=lm.group(2)
    rows.append((off,src,pending_labels)); pending_labels=[]
out=[]
for i,(off,src,labs) in enumerate(rows):
    end=rows[i+1][0] if i+1<len(rows) else len(raw)
    if end<=off: continue
    b=raw[off:end]
    code,_,com=src.partition('/*'); com=com.replace('*/','').strip()
    code=re.sub(r'\s+',' ',code.strip()); code=code.replace(' ptr','')
    if code.startswith('.p2align'): code='(padding to 8 bytes: lea esi,[esi+0])'
    for l in labs: out.append(f"    /* {l} */")
    hexs=','.join(f'0x{x:02x}' for x in b)+','
    c=code+(' -- '+com if com else '')
    out.append(f"    /* {0x1000+off:04x} */ {hexs:<42} /* {c} */")
print('\n'.join(out))
