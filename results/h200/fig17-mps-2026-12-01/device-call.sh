#!/usr/bin/env bash
set -u
R=$OUT; mkdir -p /tmp/f17; rm -rf /tmp/f17/*
OUT=/tmp/f17 KSERVE=0 bash results/h200/fig17-mps-2026-11-30/run.sh
tail -30 /tmp/f17/dev2.log
tar -czf $R/fig17.tar.gz -C /tmp/f17 . && ls -la $R
