"""Administer the S3 stand-in (moto server) the way the bundled MinIO's bucket Job does.

    s3_admin.py provision <endpoint> <bucket> <user>   -> {"access_key_id", "secret_access_key"}
    s3_admin.py objects <endpoint> <bucket>            -> {"keys": [...]}      (env: AWS_* credentials)
    s3_admin.py get <endpoint> <bucket> <key>          -> {"body": "..."}      (env: AWS_* credentials)
    s3_admin.py put <endpoint> <bucket> <key> <body>   -> {"key": "..."}       (env: AWS_* credentials)
    s3_admin.py check-auth <endpoint> <bucket>         -> {"wrong_secret": <error code>}

``provision`` runs while the server still accepts anonymous administration: create the bucket, the
MLflow user with an access key and a read-write policy on the bucket (``mc mb``, ``mc admin user add``,
``mc admin policy attach readwrite``), then switch request authentication on (moto's reset-auth), so
that from then on every S3 request must be signed with a key that exists and is allowed.
"""

import json
import os
import sys

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"


def client(service, endpoint, **creds):
    creds = creds or {"aws_access_key_id": "admin-setup", "aws_secret_access_key": "admin-setup"}
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, config=Config(retries={"max_attempts": 2}), **creds
    )


def provision(endpoint, bucket, user):
    client("s3", endpoint).create_bucket(Bucket=bucket)
    iam = client("iam", endpoint)
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="readwrite", PolicyDocument=json.dumps(policy))
    response = requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10)
    response.raise_for_status()
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


def objects(endpoint, bucket):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return {"keys": sorted(keys)}


def get(endpoint, bucket, key):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    return {"body": s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()}


def put(endpoint, bucket, key, body):
    boto3.client("s3", endpoint_url=endpoint, region_name=REGION).put_object(Bucket=bucket, Key=key, Body=body.encode())
    return {"key": key}


def check_auth(endpoint, bucket):
    wrong = client(
        "s3", endpoint, aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="not-the-secret"
    )
    try:
        wrong.list_objects_v2(Bucket=bucket)
    except ClientError as exc:
        return {"wrong_secret": exc.response["Error"]["Code"]}
    return {"wrong_secret": None}


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    result = {"provision": provision, "objects": objects, "get": get, "put": put, "check-auth": check_auth}[command](
        *rest
    )
    print(json.dumps(result))
