ARG SHOP_BASE=busybox:1.36
FROM ${SHOP_BASE}
COPY src/worker.sh /srv/shop/worker.sh
CMD ["sh", "/srv/shop/worker.sh"]
