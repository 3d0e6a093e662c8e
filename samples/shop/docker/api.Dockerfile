ARG SHOP_BASE=busybox:1.36
FROM ${SHOP_BASE}
COPY src/api.sh /srv/shop/api.sh
CMD ["sh", "/srv/shop/api.sh"]
