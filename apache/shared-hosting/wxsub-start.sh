#!/bin/sh
# wxsub-start.sh: how mod_fcgid starts wxsub.fcgi from a user's .htaccess
# (FcgidWrapper). It puts WXSUB_CONFIG into the process environment, which
# wxsub reads once at start, and execs the binary, which inherits the
# FastCGI listening socket on stdin. Unused under plain CGI.
# Replace /home/USER/... with your real paths; chmod 0755.
WXSUB_CONFIG="/home/USER/etc/wxsub.conf"
export WXSUB_CONFIG
# Saves about 0.8 MB per process: libcurl loads GnuTLS without using it.
GNUTLS_NO_IMPLICIT_INIT=1
export GNUTLS_NO_IMPLICIT_INIT
exec "/home/USER/public_html/cgi-bin/wxsub.fcgi"
