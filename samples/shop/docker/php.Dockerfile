ARG SHOP_BASE=busybox:1.36
FROM ${SHOP_BASE}
COPY vendor.lock /srv/shop/
RUN mkdir -p /srv/shop/vendor && sed 's/^/installed /' /srv/shop/vendor.lock > /srv/shop/vendor/installed
COPY src /srv/shop/src
COPY tests /srv/shop/tests
WORKDIR /srv/shop
CMD ["sh", "src/api.sh"]
