#!/bin/sh
# Turn an ELF's function symbols into the table the panic path symbolises
# backtraces with: ksym_count, then {address, name offset} sorted by
# address (32 bits each: the kernel lives below 4 GiB), then the names.  Usage: ksyms.sh NM ELF > ksyms.S
nm=$1; elf=$2
$nm -n --defined-only "$elf" | awk '
    $2 ~ /^[tT]$/ && $3 !~ /^\.L/ { addr[n] = $1; name[n] = $3; n++ }
    END {
        print "\t.section .ksyms, \"a\""
        print "\t.balign 8"
        print "\t.globl ksym_count, ksym_table, ksym_names"
        print "ksym_count:\t.quad " n
        print "ksym_table:"
        off = 0
        for (i = 0; i < n; i++) {
            printf "\t.long 0x%s, %d\n", addr[i], off
            off += length(name[i]) + 1
        }
        print "ksym_names:"
        for (i = 0; i < n; i++)
            printf "\t.asciz \"%s\"\n", name[i]
    }'
