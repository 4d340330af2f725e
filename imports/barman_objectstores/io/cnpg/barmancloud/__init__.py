from __future__ import annotations

from pkgutil import extend_path
__path__ = extend_path(__path__, __name__)

import abc
import builtins
import datetime
import enum
import typing

import jsii
import publication
import typing_extensions

from jsii._type_checking import cached_type_hints, check_type


from ._jsii import *

class _LazyImport:
    def __init__(self, module_name: str) -> None:
        self._module_name = module_name
        self._module: typing.Any = None
    def __getattr__(self, name: str) -> typing.Any:
        if self._module is None:
            import importlib
            self._module = importlib.import_module(self._module_name)
        return getattr(self._module, name)

if typing.TYPE_CHECKING:

    import cdk8s as _cdk8s_d3d9af27
    import constructs as _constructs_77d1e7e8
else:

    _cdk8s_d3d9af27 = _LazyImport("cdk8s")
    _constructs_77d1e7e8 = _LazyImport("constructs")


class ObjectStore(
    _cdk8s_d3d9af27.ApiObject,
    metaclass=jsii.JSIIMeta,
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStore",
):
    '''ObjectStore is the Schema for the objectstores API.

    :schema: ObjectStore
    '''

    def __init__(
        self,
        scope: "_constructs_77d1e7e8.Construct",
        id: builtins.str,
        *,
        metadata: typing.Union["_cdk8s_d3d9af27.ApiObjectMetadata", typing.Dict[builtins.str, typing.Any]],
        spec: typing.Union["ObjectStoreSpec", typing.Dict[builtins.str, typing.Any]],
    ) -> None:
        '''Defines a "ObjectStore" API object.

        :param scope: the scope in which to define this object.
        :param id: a scope-local name for the object.
        :param metadata: 
        :param spec: Specification of the desired behavior of the ObjectStore. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__5640cf352992d0e6f3b6e1abfecd48218b71e287e571535b8b9c8be8d7dccb74)
            check_type(argname="argument scope", value=scope, expected_type=type_hints["scope"])
            check_type(argname="argument id", value=id, expected_type=type_hints["id"])
        props = ObjectStoreProps(metadata=metadata, spec=spec)

        jsii.create(self.__class__, self, [scope, id, props])

    @jsii.member(jsii_name="manifest")
    @builtins.classmethod
    def manifest(
        cls,
        *,
        metadata: typing.Union["_cdk8s_d3d9af27.ApiObjectMetadata", typing.Dict[builtins.str, typing.Any]],
        spec: typing.Union["ObjectStoreSpec", typing.Dict[builtins.str, typing.Any]],
    ) -> typing.Any:
        '''Renders a Kubernetes manifest for "ObjectStore".

        This can be used to inline resource manifests inside other objects (e.g. as templates).

        :param metadata: 
        :param spec: Specification of the desired behavior of the ObjectStore. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status
        '''
        props = ObjectStoreProps(metadata=metadata, spec=spec)

        return typing.cast(typing.Any, jsii.sinvoke(cls, "manifest", [props]))

    @jsii.member(jsii_name="toJson")
    def to_json(self) -> typing.Any:
        '''Renders the object to Kubernetes JSON.'''
        return typing.cast(typing.Any, jsii.invoke(self, "toJson", []))

    @jsii.python.classproperty
    @jsii.member(jsii_name="GVK")
    def GVK(cls) -> "_cdk8s_d3d9af27.GroupVersionKind":
        '''Returns the apiVersion and kind for "ObjectStore".'''
        return typing.cast("_cdk8s_d3d9af27.GroupVersionKind", jsii.sget(cls, "GVK"))


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreProps",
    jsii_struct_bases=[],
    name_mapping={"metadata": "metadata", "spec": "spec"},
)
class ObjectStoreProps:
    def __init__(
        self,
        *,
        metadata: typing.Union["_cdk8s_d3d9af27.ApiObjectMetadata", typing.Dict[builtins.str, typing.Any]],
        spec: typing.Union["ObjectStoreSpec", typing.Dict[builtins.str, typing.Any]],
    ) -> None:
        '''ObjectStore is the Schema for the objectstores API.

        :param metadata: 
        :param spec: Specification of the desired behavior of the ObjectStore. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status

        :schema: ObjectStore
        '''
        if isinstance(metadata, dict):
            metadata = _cdk8s_d3d9af27.ApiObjectMetadata(**metadata)
        if isinstance(spec, dict):
            spec = ObjectStoreSpec(**spec)
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__1f2a9074ef5c4685bb9c98d68e6ae9eaf48b2eb154c74a97437ae28a789e579a)
            check_type(argname="argument metadata", value=metadata, expected_type=type_hints["metadata"])
            check_type(argname="argument spec", value=spec, expected_type=type_hints["spec"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "metadata": metadata,
            "spec": spec,
        }

    @builtins.property
    def metadata(self) -> "_cdk8s_d3d9af27.ApiObjectMetadata":
        '''
        :schema: ObjectStore#metadata
        '''
        result = self._values.get("metadata")
        assert result is not None, "Required property 'metadata' is missing"
        return typing.cast("_cdk8s_d3d9af27.ApiObjectMetadata", result)

    @builtins.property
    def spec(self) -> "ObjectStoreSpec":
        '''Specification of the desired behavior of the ObjectStore.

        More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status

        :schema: ObjectStore#spec
        '''
        result = self._values.get("spec")
        assert result is not None, "Required property 'spec' is missing"
        return typing.cast("ObjectStoreSpec", result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreProps(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpec",
    jsii_struct_bases=[],
    name_mapping={
        "configuration": "configuration",
        "instance_sidecar_configuration": "instanceSidecarConfiguration",
        "retention_policy": "retentionPolicy",
    },
)
class ObjectStoreSpec:
    def __init__(
        self,
        *,
        configuration: typing.Union["ObjectStoreSpecConfiguration", typing.Dict[builtins.str, typing.Any]],
        instance_sidecar_configuration: typing.Optional[typing.Union["ObjectStoreSpecInstanceSidecarConfiguration", typing.Dict[builtins.str, typing.Any]]] = None,
        retention_policy: typing.Optional[builtins.str] = None,
    ) -> None:
        '''Specification of the desired behavior of the ObjectStore.

        More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status

        :param configuration: The configuration for the barman-cloud tool suite.
        :param instance_sidecar_configuration: The configuration for the sidecar that runs in the instance pods.
        :param retention_policy: RetentionPolicy is the retention policy to be used for backups and WALs (i.e. '60d'). The retention policy is expressed in the form of ``XXu`` where ``XX`` is a positive integer and ``u`` is in ``[dwm]`` - days, weeks, months.

        :schema: ObjectStoreSpec
        '''
        if isinstance(configuration, dict):
            configuration = ObjectStoreSpecConfiguration(**configuration)
        if isinstance(instance_sidecar_configuration, dict):
            instance_sidecar_configuration = ObjectStoreSpecInstanceSidecarConfiguration(**instance_sidecar_configuration)
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__8dc2be14e9f2dfa12ad878f161f2f062078d455f783a2a08ff33aabb0380ae97)
            check_type(argname="argument configuration", value=configuration, expected_type=type_hints["configuration"])
            check_type(argname="argument instance_sidecar_configuration", value=instance_sidecar_configuration, expected_type=type_hints["instance_sidecar_configuration"])
            check_type(argname="argument retention_policy", value=retention_policy, expected_type=type_hints["retention_policy"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "configuration": configuration,
        }
        if instance_sidecar_configuration is not None:
            self._values["instance_sidecar_configuration"] = instance_sidecar_configuration
        if retention_policy is not None:
            self._values["retention_policy"] = retention_policy

    @builtins.property
    def configuration(self) -> "ObjectStoreSpecConfiguration":
        '''The configuration for the barman-cloud tool suite.

        :schema: ObjectStoreSpec#configuration
        '''
        result = self._values.get("configuration")
        assert result is not None, "Required property 'configuration' is missing"
        return typing.cast("ObjectStoreSpecConfiguration", result)

    @builtins.property
    def instance_sidecar_configuration(
        self,
    ) -> typing.Optional["ObjectStoreSpecInstanceSidecarConfiguration"]:
        '''The configuration for the sidecar that runs in the instance pods.

        :schema: ObjectStoreSpec#instanceSidecarConfiguration
        '''
        result = self._values.get("instance_sidecar_configuration")
        return typing.cast(typing.Optional["ObjectStoreSpecInstanceSidecarConfiguration"], result)

    @builtins.property
    def retention_policy(self) -> typing.Optional[builtins.str]:
        '''RetentionPolicy is the retention policy to be used for backups and WALs (i.e. '60d'). The retention policy is expressed in the form of ``XXu`` where ``XX`` is a positive integer and ``u`` is in ``[dwm]`` - days, weeks, months.

        :schema: ObjectStoreSpec#retentionPolicy
        '''
        result = self._values.get("retention_policy")
        return typing.cast(typing.Optional[builtins.str], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpec(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfiguration",
    jsii_struct_bases=[],
    name_mapping={
        "destination_path": "destinationPath",
        "azure_credentials": "azureCredentials",
        "data": "data",
        "endpoint_ca": "endpointCa",
        "endpoint_url": "endpointUrl",
        "google_credentials": "googleCredentials",
        "history_tags": "historyTags",
        "s3_credentials": "s3Credentials",
        "server_name": "serverName",
        "tags": "tags",
        "wal": "wal",
    },
)
class ObjectStoreSpecConfiguration:
    def __init__(
        self,
        *,
        destination_path: builtins.str,
        azure_credentials: typing.Optional[typing.Union["ObjectStoreSpecConfigurationAzureCredentials", typing.Dict[builtins.str, typing.Any]]] = None,
        data: typing.Optional[typing.Union["ObjectStoreSpecConfigurationData", typing.Dict[builtins.str, typing.Any]]] = None,
        endpoint_ca: typing.Optional[typing.Union["ObjectStoreSpecConfigurationEndpointCa", typing.Dict[builtins.str, typing.Any]]] = None,
        endpoint_url: typing.Optional[builtins.str] = None,
        google_credentials: typing.Optional[typing.Union["ObjectStoreSpecConfigurationGoogleCredentials", typing.Dict[builtins.str, typing.Any]]] = None,
        history_tags: typing.Optional[typing.Mapping[builtins.str, builtins.str]] = None,
        s3_credentials: typing.Optional[typing.Union["ObjectStoreSpecConfigurationS3Credentials", typing.Dict[builtins.str, typing.Any]]] = None,
        server_name: typing.Optional[builtins.str] = None,
        tags: typing.Optional[typing.Mapping[builtins.str, builtins.str]] = None,
        wal: typing.Optional[typing.Union["ObjectStoreSpecConfigurationWal", typing.Dict[builtins.str, typing.Any]]] = None,
    ) -> None:
        '''The configuration for the barman-cloud tool suite.

        :param destination_path: The path where to store the backup (i.e. s3://bucket/path/to/folder) this path, with different destination folders, will be used for WALs and for data.
        :param azure_credentials: The credentials to use to upload data to Azure Blob Storage.
        :param data: The configuration to be used to backup the data files When not defined, base backups files will be stored uncompressed and may be unencrypted in the object store, according to the bucket default policy.
        :param endpoint_ca: EndpointCA store the CA bundle of the barman endpoint. Useful when using self-signed certificates to avoid errors with certificate issuer and barman-cloud-wal-archive
        :param endpoint_url: Endpoint to be used to upload data to the cloud, overriding the automatic endpoint discovery.
        :param google_credentials: The credentials to use to upload data to Google Cloud Storage.
        :param history_tags: HistoryTags is a list of key value pairs that will be passed to the Barman --history-tags option.
        :param s3_credentials: The credentials to use to upload data to S3.
        :param server_name: The server name on S3, the cluster name is used if this parameter is omitted.
        :param tags: Tags is a list of key value pairs that will be passed to the Barman --tags option.
        :param wal: The configuration for the backup of the WAL stream. When not defined, WAL files will be stored uncompressed and may be unencrypted in the object store, according to the bucket default policy.

        :schema: ObjectStoreSpecConfiguration
        '''
        if isinstance(azure_credentials, dict):
            azure_credentials = ObjectStoreSpecConfigurationAzureCredentials(**azure_credentials)
        if isinstance(data, dict):
            data = ObjectStoreSpecConfigurationData(**data)
        if isinstance(endpoint_ca, dict):
            endpoint_ca = ObjectStoreSpecConfigurationEndpointCa(**endpoint_ca)
        if isinstance(google_credentials, dict):
            google_credentials = ObjectStoreSpecConfigurationGoogleCredentials(**google_credentials)
        if isinstance(s3_credentials, dict):
            s3_credentials = ObjectStoreSpecConfigurationS3Credentials(**s3_credentials)
        if isinstance(wal, dict):
            wal = ObjectStoreSpecConfigurationWal(**wal)
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__7a6afe973eb14a76d2095d3d6895583c78641684d60e20bcc96782611547a574)
            check_type(argname="argument destination_path", value=destination_path, expected_type=type_hints["destination_path"])
            check_type(argname="argument azure_credentials", value=azure_credentials, expected_type=type_hints["azure_credentials"])
            check_type(argname="argument data", value=data, expected_type=type_hints["data"])
            check_type(argname="argument endpoint_ca", value=endpoint_ca, expected_type=type_hints["endpoint_ca"])
            check_type(argname="argument endpoint_url", value=endpoint_url, expected_type=type_hints["endpoint_url"])
            check_type(argname="argument google_credentials", value=google_credentials, expected_type=type_hints["google_credentials"])
            check_type(argname="argument history_tags", value=history_tags, expected_type=type_hints["history_tags"])
            check_type(argname="argument s3_credentials", value=s3_credentials, expected_type=type_hints["s3_credentials"])
            check_type(argname="argument server_name", value=server_name, expected_type=type_hints["server_name"])
            check_type(argname="argument tags", value=tags, expected_type=type_hints["tags"])
            check_type(argname="argument wal", value=wal, expected_type=type_hints["wal"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "destination_path": destination_path,
        }
        if azure_credentials is not None:
            self._values["azure_credentials"] = azure_credentials
        if data is not None:
            self._values["data"] = data
        if endpoint_ca is not None:
            self._values["endpoint_ca"] = endpoint_ca
        if endpoint_url is not None:
            self._values["endpoint_url"] = endpoint_url
        if google_credentials is not None:
            self._values["google_credentials"] = google_credentials
        if history_tags is not None:
            self._values["history_tags"] = history_tags
        if s3_credentials is not None:
            self._values["s3_credentials"] = s3_credentials
        if server_name is not None:
            self._values["server_name"] = server_name
        if tags is not None:
            self._values["tags"] = tags
        if wal is not None:
            self._values["wal"] = wal

    @builtins.property
    def destination_path(self) -> builtins.str:
        '''The path where to store the backup (i.e. s3://bucket/path/to/folder) this path, with different destination folders, will be used for WALs and for data.

        :schema: ObjectStoreSpecConfiguration#destinationPath
        '''
        result = self._values.get("destination_path")
        assert result is not None, "Required property 'destination_path' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def azure_credentials(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationAzureCredentials"]:
        '''The credentials to use to upload data to Azure Blob Storage.

        :schema: ObjectStoreSpecConfiguration#azureCredentials
        '''
        result = self._values.get("azure_credentials")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationAzureCredentials"], result)

    @builtins.property
    def data(self) -> typing.Optional["ObjectStoreSpecConfigurationData"]:
        '''The configuration to be used to backup the data files When not defined, base backups files will be stored uncompressed and may be unencrypted in the object store, according to the bucket default policy.

        :schema: ObjectStoreSpecConfiguration#data
        '''
        result = self._values.get("data")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationData"], result)

    @builtins.property
    def endpoint_ca(self) -> typing.Optional["ObjectStoreSpecConfigurationEndpointCa"]:
        '''EndpointCA store the CA bundle of the barman endpoint.

        Useful when using self-signed certificates to avoid
        errors with certificate issuer and barman-cloud-wal-archive

        :schema: ObjectStoreSpecConfiguration#endpointCA
        '''
        result = self._values.get("endpoint_ca")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationEndpointCa"], result)

    @builtins.property
    def endpoint_url(self) -> typing.Optional[builtins.str]:
        '''Endpoint to be used to upload data to the cloud, overriding the automatic endpoint discovery.

        :schema: ObjectStoreSpecConfiguration#endpointURL
        '''
        result = self._values.get("endpoint_url")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def google_credentials(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationGoogleCredentials"]:
        '''The credentials to use to upload data to Google Cloud Storage.

        :schema: ObjectStoreSpecConfiguration#googleCredentials
        '''
        result = self._values.get("google_credentials")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationGoogleCredentials"], result)

    @builtins.property
    def history_tags(
        self,
    ) -> typing.Optional[typing.Mapping[builtins.str, builtins.str]]:
        '''HistoryTags is a list of key value pairs that will be passed to the Barman --history-tags option.

        :schema: ObjectStoreSpecConfiguration#historyTags
        '''
        result = self._values.get("history_tags")
        return typing.cast(typing.Optional[typing.Mapping[builtins.str, builtins.str]], result)

    @builtins.property
    def s3_credentials(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationS3Credentials"]:
        '''The credentials to use to upload data to S3.

        :schema: ObjectStoreSpecConfiguration#s3Credentials
        '''
        result = self._values.get("s3_credentials")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationS3Credentials"], result)

    @builtins.property
    def server_name(self) -> typing.Optional[builtins.str]:
        '''The server name on S3, the cluster name is used if this parameter is omitted.

        :schema: ObjectStoreSpecConfiguration#serverName
        '''
        result = self._values.get("server_name")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def tags(self) -> typing.Optional[typing.Mapping[builtins.str, builtins.str]]:
        '''Tags is a list of key value pairs that will be passed to the Barman --tags option.

        :schema: ObjectStoreSpecConfiguration#tags
        '''
        result = self._values.get("tags")
        return typing.cast(typing.Optional[typing.Mapping[builtins.str, builtins.str]], result)

    @builtins.property
    def wal(self) -> typing.Optional["ObjectStoreSpecConfigurationWal"]:
        '''The configuration for the backup of the WAL stream.

        When not defined, WAL files will be stored uncompressed and may be
        unencrypted in the object store, according to the bucket default policy.

        :schema: ObjectStoreSpecConfiguration#wal
        '''
        result = self._values.get("wal")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationWal"], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfiguration(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationAzureCredentials",
    jsii_struct_bases=[],
    name_mapping={
        "connection_string": "connectionString",
        "inherit_from_azure_ad": "inheritFromAzureAd",
        "storage_account": "storageAccount",
        "storage_key": "storageKey",
        "storage_sas_token": "storageSasToken",
        "use_default_azure_credentials": "useDefaultAzureCredentials",
    },
)
class ObjectStoreSpecConfigurationAzureCredentials:
    def __init__(
        self,
        *,
        connection_string: typing.Optional[typing.Union["ObjectStoreSpecConfigurationAzureCredentialsConnectionString", typing.Dict[builtins.str, typing.Any]]] = None,
        inherit_from_azure_ad: typing.Optional[builtins.bool] = None,
        storage_account: typing.Optional[typing.Union["ObjectStoreSpecConfigurationAzureCredentialsStorageAccount", typing.Dict[builtins.str, typing.Any]]] = None,
        storage_key: typing.Optional[typing.Union["ObjectStoreSpecConfigurationAzureCredentialsStorageKey", typing.Dict[builtins.str, typing.Any]]] = None,
        storage_sas_token: typing.Optional[typing.Union["ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken", typing.Dict[builtins.str, typing.Any]]] = None,
        use_default_azure_credentials: typing.Optional[builtins.bool] = None,
    ) -> None:
        '''The credentials to use to upload data to Azure Blob Storage.

        :param connection_string: The connection string to be used.
        :param inherit_from_azure_ad: Use the Azure AD based authentication without providing explicitly the keys.
        :param storage_account: The storage account where to upload data.
        :param storage_key: The storage account key to be used in conjunction with the storage account name.
        :param storage_sas_token: A shared-access-signature to be used in conjunction with the storage account name.
        :param use_default_azure_credentials: Use the default Azure authentication flow, which includes DefaultAzureCredential. This allows authentication using environment variables and managed identities.

        :schema: ObjectStoreSpecConfigurationAzureCredentials
        '''
        if isinstance(connection_string, dict):
            connection_string = ObjectStoreSpecConfigurationAzureCredentialsConnectionString(**connection_string)
        if isinstance(storage_account, dict):
            storage_account = ObjectStoreSpecConfigurationAzureCredentialsStorageAccount(**storage_account)
        if isinstance(storage_key, dict):
            storage_key = ObjectStoreSpecConfigurationAzureCredentialsStorageKey(**storage_key)
        if isinstance(storage_sas_token, dict):
            storage_sas_token = ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken(**storage_sas_token)
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__0866189656601453fc184c1395bc40fb36da8227c336c31df5dacc48b6930e31)
            check_type(argname="argument connection_string", value=connection_string, expected_type=type_hints["connection_string"])
            check_type(argname="argument inherit_from_azure_ad", value=inherit_from_azure_ad, expected_type=type_hints["inherit_from_azure_ad"])
            check_type(argname="argument storage_account", value=storage_account, expected_type=type_hints["storage_account"])
            check_type(argname="argument storage_key", value=storage_key, expected_type=type_hints["storage_key"])
            check_type(argname="argument storage_sas_token", value=storage_sas_token, expected_type=type_hints["storage_sas_token"])
            check_type(argname="argument use_default_azure_credentials", value=use_default_azure_credentials, expected_type=type_hints["use_default_azure_credentials"])
        self._values: typing.Dict[builtins.str, typing.Any] = {}
        if connection_string is not None:
            self._values["connection_string"] = connection_string
        if inherit_from_azure_ad is not None:
            self._values["inherit_from_azure_ad"] = inherit_from_azure_ad
        if storage_account is not None:
            self._values["storage_account"] = storage_account
        if storage_key is not None:
            self._values["storage_key"] = storage_key
        if storage_sas_token is not None:
            self._values["storage_sas_token"] = storage_sas_token
        if use_default_azure_credentials is not None:
            self._values["use_default_azure_credentials"] = use_default_azure_credentials

    @builtins.property
    def connection_string(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationAzureCredentialsConnectionString"]:
        '''The connection string to be used.

        :schema: ObjectStoreSpecConfigurationAzureCredentials#connectionString
        '''
        result = self._values.get("connection_string")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationAzureCredentialsConnectionString"], result)

    @builtins.property
    def inherit_from_azure_ad(self) -> typing.Optional[builtins.bool]:
        '''Use the Azure AD based authentication without providing explicitly the keys.

        :schema: ObjectStoreSpecConfigurationAzureCredentials#inheritFromAzureAD
        '''
        result = self._values.get("inherit_from_azure_ad")
        return typing.cast(typing.Optional[builtins.bool], result)

    @builtins.property
    def storage_account(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationAzureCredentialsStorageAccount"]:
        '''The storage account where to upload data.

        :schema: ObjectStoreSpecConfigurationAzureCredentials#storageAccount
        '''
        result = self._values.get("storage_account")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationAzureCredentialsStorageAccount"], result)

    @builtins.property
    def storage_key(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationAzureCredentialsStorageKey"]:
        '''The storage account key to be used in conjunction with the storage account name.

        :schema: ObjectStoreSpecConfigurationAzureCredentials#storageKey
        '''
        result = self._values.get("storage_key")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationAzureCredentialsStorageKey"], result)

    @builtins.property
    def storage_sas_token(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken"]:
        '''A shared-access-signature to be used in conjunction with the storage account name.

        :schema: ObjectStoreSpecConfigurationAzureCredentials#storageSasToken
        '''
        result = self._values.get("storage_sas_token")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken"], result)

    @builtins.property
    def use_default_azure_credentials(self) -> typing.Optional[builtins.bool]:
        '''Use the default Azure authentication flow, which includes DefaultAzureCredential.

        This allows authentication using environment variables and managed identities.

        :schema: ObjectStoreSpecConfigurationAzureCredentials#useDefaultAzureCredentials
        '''
        result = self._values.get("use_default_azure_credentials")
        return typing.cast(typing.Optional[builtins.bool], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationAzureCredentials(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationAzureCredentialsConnectionString",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name"},
)
class ObjectStoreSpecConfigurationAzureCredentialsConnectionString:
    def __init__(self, *, key: builtins.str, name: builtins.str) -> None:
        '''The connection string to be used.

        :param key: The key to select.
        :param name: Name of the referent.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsConnectionString
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__0f3dcc1a41cac3610be240e464eb41cc9b20691aa56af2b90f1b541290f610a7)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
            "name": name,
        }

    @builtins.property
    def key(self) -> builtins.str:
        '''The key to select.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsConnectionString#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the referent.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsConnectionString#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationAzureCredentialsConnectionString(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationAzureCredentialsStorageAccount",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name"},
)
class ObjectStoreSpecConfigurationAzureCredentialsStorageAccount:
    def __init__(self, *, key: builtins.str, name: builtins.str) -> None:
        '''The storage account where to upload data.

        :param key: The key to select.
        :param name: Name of the referent.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsStorageAccount
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__592adaaabcf71b1e297d44524a11f78f31da420225bf62c73bfdd4b23a0bf576)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
            "name": name,
        }

    @builtins.property
    def key(self) -> builtins.str:
        '''The key to select.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsStorageAccount#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the referent.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsStorageAccount#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationAzureCredentialsStorageAccount(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationAzureCredentialsStorageKey",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name"},
)
class ObjectStoreSpecConfigurationAzureCredentialsStorageKey:
    def __init__(self, *, key: builtins.str, name: builtins.str) -> None:
        '''The storage account key to be used in conjunction with the storage account name.

        :param key: The key to select.
        :param name: Name of the referent.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsStorageKey
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__ee6c23f866f9422f9e018d60f8ba1f0d0c9b7cfff7338841a03d792146afe715)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
            "name": name,
        }

    @builtins.property
    def key(self) -> builtins.str:
        '''The key to select.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsStorageKey#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the referent.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsStorageKey#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationAzureCredentialsStorageKey(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name"},
)
class ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken:
    def __init__(self, *, key: builtins.str, name: builtins.str) -> None:
        '''A shared-access-signature to be used in conjunction with the storage account name.

        :param key: The key to select.
        :param name: Name of the referent.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__fefc5b1aa5bdb7596569e2f944210aa51bae8568adbc51de5dfe016a3affff81)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
            "name": name,
        }

    @builtins.property
    def key(self) -> builtins.str:
        '''The key to select.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the referent.

        :schema: ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationData",
    jsii_struct_bases=[],
    name_mapping={
        "additional_command_args": "additionalCommandArgs",
        "compression": "compression",
        "encryption": "encryption",
        "immediate_checkpoint": "immediateCheckpoint",
        "jobs": "jobs",
        "restore_additional_command_args": "restoreAdditionalCommandArgs",
    },
)
class ObjectStoreSpecConfigurationData:
    def __init__(
        self,
        *,
        additional_command_args: typing.Optional[typing.Sequence[builtins.str]] = None,
        compression: typing.Optional["ObjectStoreSpecConfigurationDataCompression"] = None,
        encryption: typing.Optional["ObjectStoreSpecConfigurationDataEncryption"] = None,
        immediate_checkpoint: typing.Optional[builtins.bool] = None,
        jobs: typing.Optional[jsii.Number] = None,
        restore_additional_command_args: typing.Optional[typing.Sequence[builtins.str]] = None,
    ) -> None:
        '''The configuration to be used to backup the data files When not defined, base backups files will be stored uncompressed and may be unencrypted in the object store, according to the bucket default policy.

        :param additional_command_args: AdditionalCommandArgs represents additional arguments that can be appended to the 'barman-cloud-backup' command-line invocation. These arguments provide flexibility to customize the backup process further according to specific requirements or configurations. Example: In a scenario where specialized backup options are required, such as setting a specific timeout or defining custom behavior, users can use this field to specify additional command arguments. Note: It's essential to ensure that the provided arguments are valid and supported by the 'barman-cloud-backup' command, to avoid potential errors or unintended behavior during execution.
        :param compression: Compress a backup file (a tar file per tablespace) while streaming it to the object store. Available options are empty string (no compression, default), ``gzip``, ``bzip2``, ``lz4``, and ``snappy``.
        :param encryption: Whenever to force the encryption of files (if the bucket is not already configured for that). Allowed options are empty string (use the bucket policy, default), ``AES256`` and ``aws:kms``
        :param immediate_checkpoint: Control whether the I/O workload for the backup initial checkpoint will be limited, according to the ``checkpoint_completion_target`` setting on the PostgreSQL server. If set to true, an immediate checkpoint will be used, meaning PostgreSQL will complete the checkpoint as soon as possible. ``false`` by default.
        :param jobs: The number of parallel jobs to be used to upload the backup, defaults to 2.
        :param restore_additional_command_args: Additional arguments that can be appended to the 'barman-cloud-restore' command-line invocation. These arguments provide flexibility to customize the data restore process further, according to specific requirements or configurations. Example: In a scenario where specialized restore options are required, such as setting a specific read timeout or defining custom behavior, users can use this field to specify additional command arguments. Note: It's essential to ensure that the provided arguments are valid and supported by the 'barman-cloud-restore' command, to avoid potential errors or unintended behavior during execution.

        :schema: ObjectStoreSpecConfigurationData
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__b2a2271acb2b708cb84ebc34f2a1c2acdf6660847caecb8083e5db104445868e)
            check_type(argname="argument additional_command_args", value=additional_command_args, expected_type=type_hints["additional_command_args"])
            check_type(argname="argument compression", value=compression, expected_type=type_hints["compression"])
            check_type(argname="argument encryption", value=encryption, expected_type=type_hints["encryption"])
            check_type(argname="argument immediate_checkpoint", value=immediate_checkpoint, expected_type=type_hints["immediate_checkpoint"])
            check_type(argname="argument jobs", value=jobs, expected_type=type_hints["jobs"])
            check_type(argname="argument restore_additional_command_args", value=restore_additional_command_args, expected_type=type_hints["restore_additional_command_args"])
        self._values: typing.Dict[builtins.str, typing.Any] = {}
        if additional_command_args is not None:
            self._values["additional_command_args"] = additional_command_args
        if compression is not None:
            self._values["compression"] = compression
        if encryption is not None:
            self._values["encryption"] = encryption
        if immediate_checkpoint is not None:
            self._values["immediate_checkpoint"] = immediate_checkpoint
        if jobs is not None:
            self._values["jobs"] = jobs
        if restore_additional_command_args is not None:
            self._values["restore_additional_command_args"] = restore_additional_command_args

    @builtins.property
    def additional_command_args(self) -> typing.Optional[typing.List[builtins.str]]:
        '''AdditionalCommandArgs represents additional arguments that can be appended to the 'barman-cloud-backup' command-line invocation.

        These arguments
        provide flexibility to customize the backup process further according to
        specific requirements or configurations.

        Example:
        In a scenario where specialized backup options are required, such as setting
        a specific timeout or defining custom behavior, users can use this field
        to specify additional command arguments.

        Note:
        It's essential to ensure that the provided arguments are valid and supported
        by the 'barman-cloud-backup' command, to avoid potential errors or unintended
        behavior during execution.

        :schema: ObjectStoreSpecConfigurationData#additionalCommandArgs
        '''
        result = self._values.get("additional_command_args")
        return typing.cast(typing.Optional[typing.List[builtins.str]], result)

    @builtins.property
    def compression(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationDataCompression"]:
        '''Compress a backup file (a tar file per tablespace) while streaming it to the object store.

        Available options are empty string (no
        compression, default), ``gzip``, ``bzip2``, ``lz4``, and ``snappy``.

        :schema: ObjectStoreSpecConfigurationData#compression
        '''
        result = self._values.get("compression")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationDataCompression"], result)

    @builtins.property
    def encryption(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationDataEncryption"]:
        '''Whenever to force the encryption of files (if the bucket is not already configured for that).

        Allowed options are empty string (use the bucket policy, default),
        ``AES256`` and ``aws:kms``

        :schema: ObjectStoreSpecConfigurationData#encryption
        '''
        result = self._values.get("encryption")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationDataEncryption"], result)

    @builtins.property
    def immediate_checkpoint(self) -> typing.Optional[builtins.bool]:
        '''Control whether the I/O workload for the backup initial checkpoint will be limited, according to the ``checkpoint_completion_target`` setting on the PostgreSQL server.

        If set to true, an immediate checkpoint will be
        used, meaning PostgreSQL will complete the checkpoint as soon as
        possible. ``false`` by default.

        :schema: ObjectStoreSpecConfigurationData#immediateCheckpoint
        '''
        result = self._values.get("immediate_checkpoint")
        return typing.cast(typing.Optional[builtins.bool], result)

    @builtins.property
    def jobs(self) -> typing.Optional[jsii.Number]:
        '''The number of parallel jobs to be used to upload the backup, defaults to 2.

        :schema: ObjectStoreSpecConfigurationData#jobs
        '''
        result = self._values.get("jobs")
        return typing.cast(typing.Optional[jsii.Number], result)

    @builtins.property
    def restore_additional_command_args(
        self,
    ) -> typing.Optional[typing.List[builtins.str]]:
        '''Additional arguments that can be appended to the 'barman-cloud-restore' command-line invocation.

        These arguments provide flexibility to customize
        the data restore process further, according to specific requirements or
        configurations.

        Example:
        In a scenario where specialized restore options are required, such as setting
        a specific read timeout or defining custom behavior, users can use this field
        to specify additional command arguments.

        Note:
        It's essential to ensure that the provided arguments are valid and supported
        by the 'barman-cloud-restore' command, to avoid potential errors or unintended
        behavior during execution.

        :schema: ObjectStoreSpecConfigurationData#restoreAdditionalCommandArgs
        '''
        result = self._values.get("restore_additional_command_args")
        return typing.cast(typing.Optional[typing.List[builtins.str]], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationData(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationDataCompression"
)
class ObjectStoreSpecConfigurationDataCompression(enum.Enum):
    '''Compress a backup file (a tar file per tablespace) while streaming it to the object store.

    Available options are empty string (no
    compression, default), ``gzip``, ``bzip2``, ``lz4``, and ``snappy``.

    :schema: ObjectStoreSpecConfigurationDataCompression
    '''

    BZIP2 = "BZIP2"
    '''bzip2.'''
    GZIP = "GZIP"
    '''gzip.'''
    LZ4 = "LZ4"
    '''lz4.'''
    SNAPPY = "SNAPPY"
    '''snappy.'''


@jsii.enum(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationDataEncryption"
)
class ObjectStoreSpecConfigurationDataEncryption(enum.Enum):
    '''Whenever to force the encryption of files (if the bucket is not already configured for that).

    Allowed options are empty string (use the bucket policy, default),
    ``AES256`` and ``aws:kms``

    :schema: ObjectStoreSpecConfigurationDataEncryption
    '''

    AES256 = "AES256"
    '''AES256.'''
    AWS_KMS = "AWS_KMS"
    '''aws:kms.'''


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationEndpointCa",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name"},
)
class ObjectStoreSpecConfigurationEndpointCa:
    def __init__(self, *, key: builtins.str, name: builtins.str) -> None:
        '''EndpointCA store the CA bundle of the barman endpoint.

        Useful when using self-signed certificates to avoid
        errors with certificate issuer and barman-cloud-wal-archive

        :param key: The key to select.
        :param name: Name of the referent.

        :schema: ObjectStoreSpecConfigurationEndpointCa
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__726f592068fe2ec5a551ffdb6a98734e6ec7c0b73993ac46db059659642ba201)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
            "name": name,
        }

    @builtins.property
    def key(self) -> builtins.str:
        '''The key to select.

        :schema: ObjectStoreSpecConfigurationEndpointCa#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the referent.

        :schema: ObjectStoreSpecConfigurationEndpointCa#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationEndpointCa(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationGoogleCredentials",
    jsii_struct_bases=[],
    name_mapping={
        "application_credentials": "applicationCredentials",
        "gke_environment": "gkeEnvironment",
    },
)
class ObjectStoreSpecConfigurationGoogleCredentials:
    def __init__(
        self,
        *,
        application_credentials: typing.Optional[typing.Union["ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials", typing.Dict[builtins.str, typing.Any]]] = None,
        gke_environment: typing.Optional[builtins.bool] = None,
    ) -> None:
        '''The credentials to use to upload data to Google Cloud Storage.

        :param application_credentials: The secret containing the Google Cloud Storage JSON file with the credentials.
        :param gke_environment: If set to true, will presume that it's running inside a GKE environment, default to false.

        :schema: ObjectStoreSpecConfigurationGoogleCredentials
        '''
        if isinstance(application_credentials, dict):
            application_credentials = ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials(**application_credentials)
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__21ea3d63cc7957254ecf84add8d7ea7a3f1db1a703b1351f3638985481b4ec6a)
            check_type(argname="argument application_credentials", value=application_credentials, expected_type=type_hints["application_credentials"])
            check_type(argname="argument gke_environment", value=gke_environment, expected_type=type_hints["gke_environment"])
        self._values: typing.Dict[builtins.str, typing.Any] = {}
        if application_credentials is not None:
            self._values["application_credentials"] = application_credentials
        if gke_environment is not None:
            self._values["gke_environment"] = gke_environment

    @builtins.property
    def application_credentials(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials"]:
        '''The secret containing the Google Cloud Storage JSON file with the credentials.

        :schema: ObjectStoreSpecConfigurationGoogleCredentials#applicationCredentials
        '''
        result = self._values.get("application_credentials")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials"], result)

    @builtins.property
    def gke_environment(self) -> typing.Optional[builtins.bool]:
        '''If set to true, will presume that it's running inside a GKE environment, default to false.

        :schema: ObjectStoreSpecConfigurationGoogleCredentials#gkeEnvironment
        '''
        result = self._values.get("gke_environment")
        return typing.cast(typing.Optional[builtins.bool], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationGoogleCredentials(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name"},
)
class ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials:
    def __init__(self, *, key: builtins.str, name: builtins.str) -> None:
        '''The secret containing the Google Cloud Storage JSON file with the credentials.

        :param key: The key to select.
        :param name: Name of the referent.

        :schema: ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__3f2f6fb77150e1a6e9ddb07077ebc774b57d6f0a27be9d34d92432880af5c5df)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
            "name": name,
        }

    @builtins.property
    def key(self) -> builtins.str:
        '''The key to select.

        :schema: ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the referent.

        :schema: ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationS3Credentials",
    jsii_struct_bases=[],
    name_mapping={
        "access_key_id": "accessKeyId",
        "inherit_from_iam_role": "inheritFromIamRole",
        "region": "region",
        "secret_access_key": "secretAccessKey",
        "session_token": "sessionToken",
    },
)
class ObjectStoreSpecConfigurationS3Credentials:
    def __init__(
        self,
        *,
        access_key_id: typing.Optional[typing.Union["ObjectStoreSpecConfigurationS3CredentialsAccessKeyId", typing.Dict[builtins.str, typing.Any]]] = None,
        inherit_from_iam_role: typing.Optional[builtins.bool] = None,
        region: typing.Optional[typing.Union["ObjectStoreSpecConfigurationS3CredentialsRegion", typing.Dict[builtins.str, typing.Any]]] = None,
        secret_access_key: typing.Optional[typing.Union["ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey", typing.Dict[builtins.str, typing.Any]]] = None,
        session_token: typing.Optional[typing.Union["ObjectStoreSpecConfigurationS3CredentialsSessionToken", typing.Dict[builtins.str, typing.Any]]] = None,
    ) -> None:
        '''The credentials to use to upload data to S3.

        :param access_key_id: The reference to the access key id.
        :param inherit_from_iam_role: Use the role based authentication without providing explicitly the keys.
        :param region: The reference to the secret containing the region name.
        :param secret_access_key: The reference to the secret access key.
        :param session_token: The references to the session key.

        :schema: ObjectStoreSpecConfigurationS3Credentials
        '''
        if isinstance(access_key_id, dict):
            access_key_id = ObjectStoreSpecConfigurationS3CredentialsAccessKeyId(**access_key_id)
        if isinstance(region, dict):
            region = ObjectStoreSpecConfigurationS3CredentialsRegion(**region)
        if isinstance(secret_access_key, dict):
            secret_access_key = ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey(**secret_access_key)
        if isinstance(session_token, dict):
            session_token = ObjectStoreSpecConfigurationS3CredentialsSessionToken(**session_token)
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__f85c2a1cdbe943650b28383b7d5e6914d29524aee441e62046f7156d4856e3e1)
            check_type(argname="argument access_key_id", value=access_key_id, expected_type=type_hints["access_key_id"])
            check_type(argname="argument inherit_from_iam_role", value=inherit_from_iam_role, expected_type=type_hints["inherit_from_iam_role"])
            check_type(argname="argument region", value=region, expected_type=type_hints["region"])
            check_type(argname="argument secret_access_key", value=secret_access_key, expected_type=type_hints["secret_access_key"])
            check_type(argname="argument session_token", value=session_token, expected_type=type_hints["session_token"])
        self._values: typing.Dict[builtins.str, typing.Any] = {}
        if access_key_id is not None:
            self._values["access_key_id"] = access_key_id
        if inherit_from_iam_role is not None:
            self._values["inherit_from_iam_role"] = inherit_from_iam_role
        if region is not None:
            self._values["region"] = region
        if secret_access_key is not None:
            self._values["secret_access_key"] = secret_access_key
        if session_token is not None:
            self._values["session_token"] = session_token

    @builtins.property
    def access_key_id(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationS3CredentialsAccessKeyId"]:
        '''The reference to the access key id.

        :schema: ObjectStoreSpecConfigurationS3Credentials#accessKeyId
        '''
        result = self._values.get("access_key_id")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationS3CredentialsAccessKeyId"], result)

    @builtins.property
    def inherit_from_iam_role(self) -> typing.Optional[builtins.bool]:
        '''Use the role based authentication without providing explicitly the keys.

        :schema: ObjectStoreSpecConfigurationS3Credentials#inheritFromIAMRole
        '''
        result = self._values.get("inherit_from_iam_role")
        return typing.cast(typing.Optional[builtins.bool], result)

    @builtins.property
    def region(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationS3CredentialsRegion"]:
        '''The reference to the secret containing the region name.

        :schema: ObjectStoreSpecConfigurationS3Credentials#region
        '''
        result = self._values.get("region")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationS3CredentialsRegion"], result)

    @builtins.property
    def secret_access_key(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey"]:
        '''The reference to the secret access key.

        :schema: ObjectStoreSpecConfigurationS3Credentials#secretAccessKey
        '''
        result = self._values.get("secret_access_key")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey"], result)

    @builtins.property
    def session_token(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationS3CredentialsSessionToken"]:
        '''The references to the session key.

        :schema: ObjectStoreSpecConfigurationS3Credentials#sessionToken
        '''
        result = self._values.get("session_token")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationS3CredentialsSessionToken"], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationS3Credentials(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationS3CredentialsAccessKeyId",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name"},
)
class ObjectStoreSpecConfigurationS3CredentialsAccessKeyId:
    def __init__(self, *, key: builtins.str, name: builtins.str) -> None:
        '''The reference to the access key id.

        :param key: The key to select.
        :param name: Name of the referent.

        :schema: ObjectStoreSpecConfigurationS3CredentialsAccessKeyId
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__4bd36fda5e4a501f88c3fc74a755ac844349c55f6922ff9a3151ff3a3c042528)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
            "name": name,
        }

    @builtins.property
    def key(self) -> builtins.str:
        '''The key to select.

        :schema: ObjectStoreSpecConfigurationS3CredentialsAccessKeyId#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the referent.

        :schema: ObjectStoreSpecConfigurationS3CredentialsAccessKeyId#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationS3CredentialsAccessKeyId(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationS3CredentialsRegion",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name"},
)
class ObjectStoreSpecConfigurationS3CredentialsRegion:
    def __init__(self, *, key: builtins.str, name: builtins.str) -> None:
        '''The reference to the secret containing the region name.

        :param key: The key to select.
        :param name: Name of the referent.

        :schema: ObjectStoreSpecConfigurationS3CredentialsRegion
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__6d47e81ab13d7298b89c3a2c14514d145471e5bc11ca90875911d71f3fe9ee99)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
            "name": name,
        }

    @builtins.property
    def key(self) -> builtins.str:
        '''The key to select.

        :schema: ObjectStoreSpecConfigurationS3CredentialsRegion#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the referent.

        :schema: ObjectStoreSpecConfigurationS3CredentialsRegion#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationS3CredentialsRegion(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name"},
)
class ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey:
    def __init__(self, *, key: builtins.str, name: builtins.str) -> None:
        '''The reference to the secret access key.

        :param key: The key to select.
        :param name: Name of the referent.

        :schema: ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__31b63dd026749291e4979382f24588496331e53d54132e7caa366f5d7561e8f1)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
            "name": name,
        }

    @builtins.property
    def key(self) -> builtins.str:
        '''The key to select.

        :schema: ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the referent.

        :schema: ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationS3CredentialsSessionToken",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name"},
)
class ObjectStoreSpecConfigurationS3CredentialsSessionToken:
    def __init__(self, *, key: builtins.str, name: builtins.str) -> None:
        '''The references to the session key.

        :param key: The key to select.
        :param name: Name of the referent.

        :schema: ObjectStoreSpecConfigurationS3CredentialsSessionToken
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__e10ebabdf60a7bb2f63ecad442b1cca6f5d89dc26f1f021002538bd0c0b19662)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
            "name": name,
        }

    @builtins.property
    def key(self) -> builtins.str:
        '''The key to select.

        :schema: ObjectStoreSpecConfigurationS3CredentialsSessionToken#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the referent.

        :schema: ObjectStoreSpecConfigurationS3CredentialsSessionToken#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationS3CredentialsSessionToken(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationWal",
    jsii_struct_bases=[],
    name_mapping={
        "archive_additional_command_args": "archiveAdditionalCommandArgs",
        "compression": "compression",
        "encryption": "encryption",
        "max_parallel": "maxParallel",
        "restore_additional_command_args": "restoreAdditionalCommandArgs",
    },
)
class ObjectStoreSpecConfigurationWal:
    def __init__(
        self,
        *,
        archive_additional_command_args: typing.Optional[typing.Sequence[builtins.str]] = None,
        compression: typing.Optional["ObjectStoreSpecConfigurationWalCompression"] = None,
        encryption: typing.Optional["ObjectStoreSpecConfigurationWalEncryption"] = None,
        max_parallel: typing.Optional[jsii.Number] = None,
        restore_additional_command_args: typing.Optional[typing.Sequence[builtins.str]] = None,
    ) -> None:
        '''The configuration for the backup of the WAL stream.

        When not defined, WAL files will be stored uncompressed and may be
        unencrypted in the object store, according to the bucket default policy.

        :param archive_additional_command_args: Additional arguments that can be appended to the 'barman-cloud-wal-archive' command-line invocation. These arguments provide flexibility to customize the WAL archive process further, according to specific requirements or configurations. Example: In a scenario where specialized backup options are required, such as setting a specific timeout or defining custom behavior, users can use this field to specify additional command arguments. Note: It's essential to ensure that the provided arguments are valid and supported by the 'barman-cloud-wal-archive' command, to avoid potential errors or unintended behavior during execution.
        :param compression: Compress a WAL file before sending it to the object store. Available options are empty string (no compression, default), ``gzip``, ``bzip2``, ``lz4``, ``snappy``, ``xz``, and ``zstd``.
        :param encryption: Whenever to force the encryption of files (if the bucket is not already configured for that). Allowed options are empty string (use the bucket policy, default), ``AES256`` and ``aws:kms``
        :param max_parallel: Number of WAL files to be either archived in parallel (when the PostgreSQL instance is archiving to a backup object store) or restored in parallel (when a PostgreSQL standby is fetching WAL files from a recovery object store). If not specified, WAL files will be processed one at a time. It accepts a positive integer as a value - with 1 being the minimum accepted value.
        :param restore_additional_command_args: Additional arguments that can be appended to the 'barman-cloud-wal-restore' command-line invocation. These arguments provide flexibility to customize the WAL restore process further, according to specific requirements or configurations. Example: In a scenario where specialized backup options are required, such as setting a specific timeout or defining custom behavior, users can use this field to specify additional command arguments. Note: It's essential to ensure that the provided arguments are valid and supported by the 'barman-cloud-wal-restore' command, to avoid potential errors or unintended behavior during execution.

        :schema: ObjectStoreSpecConfigurationWal
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__b55d7ee6def1cb840a985b0ff10c5cac8c95897a93992437f5f9fd78b4d02398)
            check_type(argname="argument archive_additional_command_args", value=archive_additional_command_args, expected_type=type_hints["archive_additional_command_args"])
            check_type(argname="argument compression", value=compression, expected_type=type_hints["compression"])
            check_type(argname="argument encryption", value=encryption, expected_type=type_hints["encryption"])
            check_type(argname="argument max_parallel", value=max_parallel, expected_type=type_hints["max_parallel"])
            check_type(argname="argument restore_additional_command_args", value=restore_additional_command_args, expected_type=type_hints["restore_additional_command_args"])
        self._values: typing.Dict[builtins.str, typing.Any] = {}
        if archive_additional_command_args is not None:
            self._values["archive_additional_command_args"] = archive_additional_command_args
        if compression is not None:
            self._values["compression"] = compression
        if encryption is not None:
            self._values["encryption"] = encryption
        if max_parallel is not None:
            self._values["max_parallel"] = max_parallel
        if restore_additional_command_args is not None:
            self._values["restore_additional_command_args"] = restore_additional_command_args

    @builtins.property
    def archive_additional_command_args(
        self,
    ) -> typing.Optional[typing.List[builtins.str]]:
        '''Additional arguments that can be appended to the 'barman-cloud-wal-archive' command-line invocation.

        These arguments provide flexibility to customize
        the WAL archive process further, according to specific requirements or configurations.

        Example:
        In a scenario where specialized backup options are required, such as setting
        a specific timeout or defining custom behavior, users can use this field
        to specify additional command arguments.

        Note:
        It's essential to ensure that the provided arguments are valid and supported
        by the 'barman-cloud-wal-archive' command, to avoid potential errors or unintended
        behavior during execution.

        :schema: ObjectStoreSpecConfigurationWal#archiveAdditionalCommandArgs
        '''
        result = self._values.get("archive_additional_command_args")
        return typing.cast(typing.Optional[typing.List[builtins.str]], result)

    @builtins.property
    def compression(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationWalCompression"]:
        '''Compress a WAL file before sending it to the object store.

        Available
        options are empty string (no compression, default), ``gzip``, ``bzip2``,
        ``lz4``, ``snappy``, ``xz``, and ``zstd``.

        :schema: ObjectStoreSpecConfigurationWal#compression
        '''
        result = self._values.get("compression")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationWalCompression"], result)

    @builtins.property
    def encryption(
        self,
    ) -> typing.Optional["ObjectStoreSpecConfigurationWalEncryption"]:
        '''Whenever to force the encryption of files (if the bucket is not already configured for that).

        Allowed options are empty string (use the bucket policy, default),
        ``AES256`` and ``aws:kms``

        :schema: ObjectStoreSpecConfigurationWal#encryption
        '''
        result = self._values.get("encryption")
        return typing.cast(typing.Optional["ObjectStoreSpecConfigurationWalEncryption"], result)

    @builtins.property
    def max_parallel(self) -> typing.Optional[jsii.Number]:
        '''Number of WAL files to be either archived in parallel (when the PostgreSQL instance is archiving to a backup object store) or restored in parallel (when a PostgreSQL standby is fetching WAL files from a recovery object store).

        If not specified, WAL files
        will be processed one at a time. It accepts a positive integer as a
        value - with 1 being the minimum accepted value.

        :schema: ObjectStoreSpecConfigurationWal#maxParallel
        '''
        result = self._values.get("max_parallel")
        return typing.cast(typing.Optional[jsii.Number], result)

    @builtins.property
    def restore_additional_command_args(
        self,
    ) -> typing.Optional[typing.List[builtins.str]]:
        '''Additional arguments that can be appended to the 'barman-cloud-wal-restore' command-line invocation.

        These arguments provide flexibility to customize
        the WAL restore process further, according to specific requirements or configurations.

        Example:
        In a scenario where specialized backup options are required, such as setting
        a specific timeout or defining custom behavior, users can use this field
        to specify additional command arguments.

        Note:
        It's essential to ensure that the provided arguments are valid and supported
        by the 'barman-cloud-wal-restore' command, to avoid potential errors or unintended
        behavior during execution.

        :schema: ObjectStoreSpecConfigurationWal#restoreAdditionalCommandArgs
        '''
        result = self._values.get("restore_additional_command_args")
        return typing.cast(typing.Optional[typing.List[builtins.str]], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecConfigurationWal(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationWalCompression"
)
class ObjectStoreSpecConfigurationWalCompression(enum.Enum):
    '''Compress a WAL file before sending it to the object store.

    Available
    options are empty string (no compression, default), ``gzip``, ``bzip2``,
    ``lz4``, ``snappy``, ``xz``, and ``zstd``.

    :schema: ObjectStoreSpecConfigurationWalCompression
    '''

    BZIP2 = "BZIP2"
    '''bzip2.'''
    GZIP = "GZIP"
    '''gzip.'''
    LZ4 = "LZ4"
    '''lz4.'''
    SNAPPY = "SNAPPY"
    '''snappy.'''
    XZ = "XZ"
    '''xz.'''
    ZSTD = "ZSTD"
    '''zstd.'''


@jsii.enum(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecConfigurationWalEncryption"
)
class ObjectStoreSpecConfigurationWalEncryption(enum.Enum):
    '''Whenever to force the encryption of files (if the bucket is not already configured for that).

    Allowed options are empty string (use the bucket policy, default),
    ``AES256`` and ``aws:kms``

    :schema: ObjectStoreSpecConfigurationWalEncryption
    '''

    AES256 = "AES256"
    '''AES256.'''
    AWS_KMS = "AWS_KMS"
    '''aws:kms.'''


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfiguration",
    jsii_struct_bases=[],
    name_mapping={
        "additional_container_args": "additionalContainerArgs",
        "env": "env",
        "log_level": "logLevel",
        "resources": "resources",
        "retention_policy_interval_seconds": "retentionPolicyIntervalSeconds",
    },
)
class ObjectStoreSpecInstanceSidecarConfiguration:
    def __init__(
        self,
        *,
        additional_container_args: typing.Optional[typing.Sequence[builtins.str]] = None,
        env: typing.Optional[typing.Sequence[typing.Union["ObjectStoreSpecInstanceSidecarConfigurationEnv", typing.Dict[builtins.str, typing.Any]]]] = None,
        log_level: typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationLogLevel"] = None,
        resources: typing.Optional[typing.Union["ObjectStoreSpecInstanceSidecarConfigurationResources", typing.Dict[builtins.str, typing.Any]]] = None,
        retention_policy_interval_seconds: typing.Optional[jsii.Number] = None,
    ) -> None:
        '''The configuration for the sidecar that runs in the instance pods.

        :param additional_container_args: AdditionalContainerArgs is an optional list of command-line arguments to be passed to the sidecar container when it starts. The provided arguments are appended to the container’s default arguments.
        :param env: The environment to be explicitly passed to the sidecar.
        :param log_level: The log level for PostgreSQL instances. Valid values are: ``error``, ``warning``, ``info`` (default), ``debug``, ``trace``
        :param resources: Resources define cpu/memory requests and limits for the sidecar that runs in the instance pods.
        :param retention_policy_interval_seconds: The retentionCheckInterval defines the frequency at which the system checks and enforces retention policies.

        :schema: ObjectStoreSpecInstanceSidecarConfiguration
        '''
        if isinstance(resources, dict):
            resources = ObjectStoreSpecInstanceSidecarConfigurationResources(**resources)
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__6f639d0441050ee4aab11112f8c4e2ce7b1d38dfd4922f4e8ece070e92269ac5)
            check_type(argname="argument additional_container_args", value=additional_container_args, expected_type=type_hints["additional_container_args"])
            check_type(argname="argument env", value=env, expected_type=type_hints["env"])
            check_type(argname="argument log_level", value=log_level, expected_type=type_hints["log_level"])
            check_type(argname="argument resources", value=resources, expected_type=type_hints["resources"])
            check_type(argname="argument retention_policy_interval_seconds", value=retention_policy_interval_seconds, expected_type=type_hints["retention_policy_interval_seconds"])
        self._values: typing.Dict[builtins.str, typing.Any] = {}
        if additional_container_args is not None:
            self._values["additional_container_args"] = additional_container_args
        if env is not None:
            self._values["env"] = env
        if log_level is not None:
            self._values["log_level"] = log_level
        if resources is not None:
            self._values["resources"] = resources
        if retention_policy_interval_seconds is not None:
            self._values["retention_policy_interval_seconds"] = retention_policy_interval_seconds

    @builtins.property
    def additional_container_args(self) -> typing.Optional[typing.List[builtins.str]]:
        '''AdditionalContainerArgs is an optional list of command-line arguments to be passed to the sidecar container when it starts.

        The provided arguments are appended to the container’s default arguments.

        :schema: ObjectStoreSpecInstanceSidecarConfiguration#additionalContainerArgs
        '''
        result = self._values.get("additional_container_args")
        return typing.cast(typing.Optional[typing.List[builtins.str]], result)

    @builtins.property
    def env(
        self,
    ) -> typing.Optional[typing.List["ObjectStoreSpecInstanceSidecarConfigurationEnv"]]:
        '''The environment to be explicitly passed to the sidecar.

        :schema: ObjectStoreSpecInstanceSidecarConfiguration#env
        '''
        result = self._values.get("env")
        return typing.cast(typing.Optional[typing.List["ObjectStoreSpecInstanceSidecarConfigurationEnv"]], result)

    @builtins.property
    def log_level(
        self,
    ) -> typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationLogLevel"]:
        '''The log level for PostgreSQL instances.

        Valid values are: ``error``, ``warning``, ``info`` (default), ``debug``, ``trace``

        :schema: ObjectStoreSpecInstanceSidecarConfiguration#logLevel
        '''
        result = self._values.get("log_level")
        return typing.cast(typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationLogLevel"], result)

    @builtins.property
    def resources(
        self,
    ) -> typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationResources"]:
        '''Resources define cpu/memory requests and limits for the sidecar that runs in the instance pods.

        :schema: ObjectStoreSpecInstanceSidecarConfiguration#resources
        '''
        result = self._values.get("resources")
        return typing.cast(typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationResources"], result)

    @builtins.property
    def retention_policy_interval_seconds(self) -> typing.Optional[jsii.Number]:
        '''The retentionCheckInterval defines the frequency at which the system checks and enforces retention policies.

        :schema: ObjectStoreSpecInstanceSidecarConfiguration#retentionPolicyIntervalSeconds
        '''
        result = self._values.get("retention_policy_interval_seconds")
        return typing.cast(typing.Optional[jsii.Number], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecInstanceSidecarConfiguration(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationEnv",
    jsii_struct_bases=[],
    name_mapping={"name": "name", "value": "value", "value_from": "valueFrom"},
)
class ObjectStoreSpecInstanceSidecarConfigurationEnv:
    def __init__(
        self,
        *,
        name: builtins.str,
        value: typing.Optional[builtins.str] = None,
        value_from: typing.Optional[typing.Union["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom", typing.Dict[builtins.str, typing.Any]]] = None,
    ) -> None:
        '''EnvVar represents an environment variable present in a Container.

        :param name: Name of the environment variable. May consist of any printable ASCII characters except '='.
        :param value: Variable references $(VAR_NAME) are expanded using the previously defined environment variables in the container and any service environment variables. If a variable cannot be resolved, the reference in the input string will be unchanged. Double $$ are reduced to a single $, which allows for escaping the $(VAR_NAME) syntax: i.e. "$$(VAR_NAME)" will produce the string literal "$(VAR_NAME)". Escaped references will never be expanded, regardless of whether the variable exists or not. Defaults to "". Default: .
        :param value_from: Source for the environment variable's value. Cannot be used if value is not empty.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnv
        '''
        if isinstance(value_from, dict):
            value_from = ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom(**value_from)
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__546539492904c01bf9ab0c273b75b17a3f4c2f4f389c89931c905cdfe172a4fe)
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument value", value=value, expected_type=type_hints["value"])
            check_type(argname="argument value_from", value=value_from, expected_type=type_hints["value_from"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "name": name,
        }
        if value is not None:
            self._values["value"] = value
        if value_from is not None:
            self._values["value_from"] = value_from

    @builtins.property
    def name(self) -> builtins.str:
        '''Name of the environment variable.

        May consist of any printable ASCII characters except '='.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnv#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def value(self) -> typing.Optional[builtins.str]:
        '''Variable references $(VAR_NAME) are expanded using the previously defined environment variables in the container and any service environment variables.

        If a variable cannot be resolved,
        the reference in the input string will be unchanged. Double $$ are reduced
        to a single $, which allows for escaping the $(VAR_NAME) syntax: i.e.
        "$$(VAR_NAME)" will produce the string literal "$(VAR_NAME)".
        Escaped references will never be expanded, regardless of whether the variable
        exists or not.
        Defaults to "".

        :default: .

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnv#value
        '''
        result = self._values.get("value")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def value_from(
        self,
    ) -> typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom"]:
        '''Source for the environment variable's value.

        Cannot be used if value is not empty.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnv#valueFrom
        '''
        result = self._values.get("value_from")
        return typing.cast(typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom"], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecInstanceSidecarConfigurationEnv(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom",
    jsii_struct_bases=[],
    name_mapping={
        "config_map_key_ref": "configMapKeyRef",
        "field_ref": "fieldRef",
        "file_key_ref": "fileKeyRef",
        "resource_field_ref": "resourceFieldRef",
        "secret_key_ref": "secretKeyRef",
    },
)
class ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom:
    def __init__(
        self,
        *,
        config_map_key_ref: typing.Optional[typing.Union["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef", typing.Dict[builtins.str, typing.Any]]] = None,
        field_ref: typing.Optional[typing.Union["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef", typing.Dict[builtins.str, typing.Any]]] = None,
        file_key_ref: typing.Optional[typing.Union["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef", typing.Dict[builtins.str, typing.Any]]] = None,
        resource_field_ref: typing.Optional[typing.Union["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef", typing.Dict[builtins.str, typing.Any]]] = None,
        secret_key_ref: typing.Optional[typing.Union["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef", typing.Dict[builtins.str, typing.Any]]] = None,
    ) -> None:
        '''Source for the environment variable's value.

        Cannot be used if value is not empty.

        :param config_map_key_ref: Selects a key of a ConfigMap.
        :param field_ref: Selects a field of the pod: supports metadata.name, metadata.namespace, ``metadata.labels['<KEY>']``, ``metadata.annotations['<KEY>']``, spec.nodeName, spec.serviceAccountName, status.hostIP, status.podIP, status.podIPs.
        :param file_key_ref: FileKeyRef selects a key of the env file. Requires the EnvFiles feature gate to be enabled.
        :param resource_field_ref: Selects a resource of the container: only resources limits and requests (limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory and requests.ephemeral-storage) are currently supported.
        :param secret_key_ref: Selects a key of a secret in the pod's namespace.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom
        '''
        if isinstance(config_map_key_ref, dict):
            config_map_key_ref = ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef(**config_map_key_ref)
        if isinstance(field_ref, dict):
            field_ref = ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef(**field_ref)
        if isinstance(file_key_ref, dict):
            file_key_ref = ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef(**file_key_ref)
        if isinstance(resource_field_ref, dict):
            resource_field_ref = ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef(**resource_field_ref)
        if isinstance(secret_key_ref, dict):
            secret_key_ref = ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef(**secret_key_ref)
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__8b44ac33a7d3e0001c2fb189100d24047b1844cad09b01ae4faae3010e9c7347)
            check_type(argname="argument config_map_key_ref", value=config_map_key_ref, expected_type=type_hints["config_map_key_ref"])
            check_type(argname="argument field_ref", value=field_ref, expected_type=type_hints["field_ref"])
            check_type(argname="argument file_key_ref", value=file_key_ref, expected_type=type_hints["file_key_ref"])
            check_type(argname="argument resource_field_ref", value=resource_field_ref, expected_type=type_hints["resource_field_ref"])
            check_type(argname="argument secret_key_ref", value=secret_key_ref, expected_type=type_hints["secret_key_ref"])
        self._values: typing.Dict[builtins.str, typing.Any] = {}
        if config_map_key_ref is not None:
            self._values["config_map_key_ref"] = config_map_key_ref
        if field_ref is not None:
            self._values["field_ref"] = field_ref
        if file_key_ref is not None:
            self._values["file_key_ref"] = file_key_ref
        if resource_field_ref is not None:
            self._values["resource_field_ref"] = resource_field_ref
        if secret_key_ref is not None:
            self._values["secret_key_ref"] = secret_key_ref

    @builtins.property
    def config_map_key_ref(
        self,
    ) -> typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef"]:
        '''Selects a key of a ConfigMap.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom#configMapKeyRef
        '''
        result = self._values.get("config_map_key_ref")
        return typing.cast(typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef"], result)

    @builtins.property
    def field_ref(
        self,
    ) -> typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef"]:
        '''Selects a field of the pod: supports metadata.name, metadata.namespace, ``metadata.labels['<KEY>']``, ``metadata.annotations['<KEY>']``, spec.nodeName, spec.serviceAccountName, status.hostIP, status.podIP, status.podIPs.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom#fieldRef
        '''
        result = self._values.get("field_ref")
        return typing.cast(typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef"], result)

    @builtins.property
    def file_key_ref(
        self,
    ) -> typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef"]:
        '''FileKeyRef selects a key of the env file.

        Requires the EnvFiles feature gate to be enabled.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom#fileKeyRef
        '''
        result = self._values.get("file_key_ref")
        return typing.cast(typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef"], result)

    @builtins.property
    def resource_field_ref(
        self,
    ) -> typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef"]:
        '''Selects a resource of the container: only resources limits and requests (limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory and requests.ephemeral-storage) are currently supported.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom#resourceFieldRef
        '''
        result = self._values.get("resource_field_ref")
        return typing.cast(typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef"], result)

    @builtins.property
    def secret_key_ref(
        self,
    ) -> typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef"]:
        '''Selects a key of a secret in the pod's namespace.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom#secretKeyRef
        '''
        result = self._values.get("secret_key_ref")
        return typing.cast(typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef"], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name", "optional": "optional"},
)
class ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef:
    def __init__(
        self,
        *,
        key: builtins.str,
        name: typing.Optional[builtins.str] = None,
        optional: typing.Optional[builtins.bool] = None,
    ) -> None:
        '''Selects a key of a ConfigMap.

        :param key: The key to select.
        :param name: Name of the referent. This field is effectively required, but due to backwards compatibility is allowed to be empty. Instances of this type with an empty value here are almost certainly wrong. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names
        :param optional: Specify whether the ConfigMap or its key must be defined.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__02803c9d97a4a4bd3609f625f7df2b7b68ef754a751c7b0e9caa8ddcc3188976)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument optional", value=optional, expected_type=type_hints["optional"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
        }
        if name is not None:
            self._values["name"] = name
        if optional is not None:
            self._values["optional"] = optional

    @builtins.property
    def key(self) -> builtins.str:
        '''The key to select.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> typing.Optional[builtins.str]:
        '''Name of the referent.

        This field is effectively required, but due to backwards compatibility is
        allowed to be empty. Instances of this type with an empty value here are
        almost certainly wrong.
        More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef#name
        '''
        result = self._values.get("name")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def optional(self) -> typing.Optional[builtins.bool]:
        '''Specify whether the ConfigMap or its key must be defined.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef#optional
        '''
        result = self._values.get("optional")
        return typing.cast(typing.Optional[builtins.bool], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef",
    jsii_struct_bases=[],
    name_mapping={"field_path": "fieldPath", "api_version": "apiVersion"},
)
class ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef:
    def __init__(
        self,
        *,
        field_path: builtins.str,
        api_version: typing.Optional[builtins.str] = None,
    ) -> None:
        '''Selects a field of the pod: supports metadata.name, metadata.namespace, ``metadata.labels['<KEY>']``, ``metadata.annotations['<KEY>']``, spec.nodeName, spec.serviceAccountName, status.hostIP, status.podIP, status.podIPs.

        :param field_path: Path of the field to select in the specified API version.
        :param api_version: Version of the schema the FieldPath is written in terms of, defaults to "v1".

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__4615dc929c8bf9d9ee87762b37d2105dee2cfae9866553854d17f90fb97ce506)
            check_type(argname="argument field_path", value=field_path, expected_type=type_hints["field_path"])
            check_type(argname="argument api_version", value=api_version, expected_type=type_hints["api_version"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "field_path": field_path,
        }
        if api_version is not None:
            self._values["api_version"] = api_version

    @builtins.property
    def field_path(self) -> builtins.str:
        '''Path of the field to select in the specified API version.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef#fieldPath
        '''
        result = self._values.get("field_path")
        assert result is not None, "Required property 'field_path' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def api_version(self) -> typing.Optional[builtins.str]:
        '''Version of the schema the FieldPath is written in terms of, defaults to "v1".

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef#apiVersion
        '''
        result = self._values.get("api_version")
        return typing.cast(typing.Optional[builtins.str], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef",
    jsii_struct_bases=[],
    name_mapping={
        "key": "key",
        "path": "path",
        "volume_name": "volumeName",
        "optional": "optional",
    },
)
class ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef:
    def __init__(
        self,
        *,
        key: builtins.str,
        path: builtins.str,
        volume_name: builtins.str,
        optional: typing.Optional[builtins.bool] = None,
    ) -> None:
        '''FileKeyRef selects a key of the env file.

        Requires the EnvFiles feature gate to be enabled.

        :param key: The key within the env file. An invalid key will prevent the pod from starting. The keys defined within a source may consist of any printable ASCII characters except '='. During Alpha stage of the EnvFiles feature gate, the key size is limited to 128 characters.
        :param path: The path within the volume from which to select the file. Must be relative and may not contain the '..' path or start with '..'.
        :param volume_name: The name of the volume mount containing the env file.
        :param optional: Specify whether the file or its key must be defined. If the file or key does not exist, then the env var is not published. If optional is set to true and the specified key does not exist, the environment variable will not be set in the Pod's containers. If optional is set to false and the specified key does not exist, an error will be returned during Pod creation.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__3ab332f8a2c59fe6a6ef808608ebf9393a7c5306b75824b6b7c5affb0188dfb7)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument path", value=path, expected_type=type_hints["path"])
            check_type(argname="argument volume_name", value=volume_name, expected_type=type_hints["volume_name"])
            check_type(argname="argument optional", value=optional, expected_type=type_hints["optional"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
            "path": path,
            "volume_name": volume_name,
        }
        if optional is not None:
            self._values["optional"] = optional

    @builtins.property
    def key(self) -> builtins.str:
        '''The key within the env file.

        An invalid key will prevent the pod from starting.
        The keys defined within a source may consist of any printable ASCII characters except '='.
        During Alpha stage of the EnvFiles feature gate, the key size is limited to 128 characters.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def path(self) -> builtins.str:
        '''The path within the volume from which to select the file.

        Must be relative and may not contain the '..' path or start with '..'.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef#path
        '''
        result = self._values.get("path")
        assert result is not None, "Required property 'path' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def volume_name(self) -> builtins.str:
        '''The name of the volume mount containing the env file.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef#volumeName
        '''
        result = self._values.get("volume_name")
        assert result is not None, "Required property 'volume_name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def optional(self) -> typing.Optional[builtins.bool]:
        '''Specify whether the file or its key must be defined.

        If the file or key
        does not exist, then the env var is not published.
        If optional is set to true and the specified key does not exist,
        the environment variable will not be set in the Pod's containers.

        If optional is set to false and the specified key does not exist,
        an error will be returned during Pod creation.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef#optional
        '''
        result = self._values.get("optional")
        return typing.cast(typing.Optional[builtins.bool], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef",
    jsii_struct_bases=[],
    name_mapping={
        "resource": "resource",
        "container_name": "containerName",
        "divisor": "divisor",
    },
)
class ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef:
    def __init__(
        self,
        *,
        resource: builtins.str,
        container_name: typing.Optional[builtins.str] = None,
        divisor: typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor"] = None,
    ) -> None:
        '''Selects a resource of the container: only resources limits and requests (limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory and requests.ephemeral-storage) are currently supported.

        :param resource: Required: resource to select.
        :param container_name: Container name: required for volumes, optional for env vars.
        :param divisor: Specifies the output format of the exposed resources, defaults to "1".

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__840761f57e42c369b55a16e6d6ffbb8eef0554fa69c235dbaac4a34b6fd62975)
            check_type(argname="argument resource", value=resource, expected_type=type_hints["resource"])
            check_type(argname="argument container_name", value=container_name, expected_type=type_hints["container_name"])
            check_type(argname="argument divisor", value=divisor, expected_type=type_hints["divisor"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "resource": resource,
        }
        if container_name is not None:
            self._values["container_name"] = container_name
        if divisor is not None:
            self._values["divisor"] = divisor

    @builtins.property
    def resource(self) -> builtins.str:
        '''Required: resource to select.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef#resource
        '''
        result = self._values.get("resource")
        assert result is not None, "Required property 'resource' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def container_name(self) -> typing.Optional[builtins.str]:
        '''Container name: required for volumes, optional for env vars.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef#containerName
        '''
        result = self._values.get("container_name")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def divisor(
        self,
    ) -> typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor"]:
        '''Specifies the output format of the exposed resources, defaults to "1".

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef#divisor
        '''
        result = self._values.get("divisor")
        return typing.cast(typing.Optional["ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor"], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


class ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor(
    metaclass=jsii.JSIIMeta,
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor",
):
    '''Specifies the output format of the exposed resources, defaults to "1".

    :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor
    '''

    @jsii.member(jsii_name="fromNumber")
    @builtins.classmethod
    def from_number(
        cls,
        value: jsii.Number,
    ) -> "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor":
        '''
        :param value: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__25c9c401460964a8e138a592ce16af425e02b37637068865944d8f6e862ef7c4)
            check_type(argname="argument value", value=value, expected_type=type_hints["value"])
        return typing.cast("ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor", jsii.sinvoke(cls, "fromNumber", [value]))

    @jsii.member(jsii_name="fromString")
    @builtins.classmethod
    def from_string(
        cls,
        value: builtins.str,
    ) -> "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor":
        '''
        :param value: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__b2a46f6f8e0127821d67717080b1836a01ec9ca4393b140b4ba2d66361b233eb)
            check_type(argname="argument value", value=value, expected_type=type_hints["value"])
        return typing.cast("ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor", jsii.sinvoke(cls, "fromString", [value]))

    @builtins.property
    @jsii.member(jsii_name="value")
    def value(self) -> typing.Union[builtins.str, jsii.Number]:
        return typing.cast(typing.Union[builtins.str, jsii.Number], jsii.get(self, "value"))


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef",
    jsii_struct_bases=[],
    name_mapping={"key": "key", "name": "name", "optional": "optional"},
)
class ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef:
    def __init__(
        self,
        *,
        key: builtins.str,
        name: typing.Optional[builtins.str] = None,
        optional: typing.Optional[builtins.bool] = None,
    ) -> None:
        '''Selects a key of a secret in the pod's namespace.

        :param key: The key of the secret to select from. Must be a valid secret key.
        :param name: Name of the referent. This field is effectively required, but due to backwards compatibility is allowed to be empty. Instances of this type with an empty value here are almost certainly wrong. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names
        :param optional: Specify whether the Secret or its key must be defined.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__ed750d45a95ebd015d745f03db0398611e05184dfe20bb5349119d6109784156)
            check_type(argname="argument key", value=key, expected_type=type_hints["key"])
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument optional", value=optional, expected_type=type_hints["optional"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "key": key,
        }
        if name is not None:
            self._values["name"] = name
        if optional is not None:
            self._values["optional"] = optional

    @builtins.property
    def key(self) -> builtins.str:
        '''The key of the secret to select from.

        Must be a valid secret key.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef#key
        '''
        result = self._values.get("key")
        assert result is not None, "Required property 'key' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def name(self) -> typing.Optional[builtins.str]:
        '''Name of the referent.

        This field is effectively required, but due to backwards compatibility is
        allowed to be empty. Instances of this type with an empty value here are
        almost certainly wrong.
        More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef#name
        '''
        result = self._values.get("name")
        return typing.cast(typing.Optional[builtins.str], result)

    @builtins.property
    def optional(self) -> typing.Optional[builtins.bool]:
        '''Specify whether the Secret or its key must be defined.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef#optional
        '''
        result = self._values.get("optional")
        return typing.cast(typing.Optional[builtins.bool], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.enum(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationLogLevel"
)
class ObjectStoreSpecInstanceSidecarConfigurationLogLevel(enum.Enum):
    '''The log level for PostgreSQL instances.

    Valid values are: ``error``, ``warning``, ``info`` (default), ``debug``, ``trace``

    :schema: ObjectStoreSpecInstanceSidecarConfigurationLogLevel
    '''

    ERROR = "ERROR"
    '''error.'''
    WARNING = "WARNING"
    '''warning.'''
    INFO = "INFO"
    '''info.'''
    DEBUG = "DEBUG"
    '''debug.'''
    TRACE = "TRACE"
    '''trace.'''


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationResources",
    jsii_struct_bases=[],
    name_mapping={"claims": "claims", "limits": "limits", "requests": "requests"},
)
class ObjectStoreSpecInstanceSidecarConfigurationResources:
    def __init__(
        self,
        *,
        claims: typing.Optional[typing.Sequence[typing.Union["ObjectStoreSpecInstanceSidecarConfigurationResourcesClaims", typing.Dict[builtins.str, typing.Any]]]] = None,
        limits: typing.Optional[typing.Mapping[builtins.str, "ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits"]] = None,
        requests: typing.Optional[typing.Mapping[builtins.str, "ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests"]] = None,
    ) -> None:
        '''Resources define cpu/memory requests and limits for the sidecar that runs in the instance pods.

        :param claims: Claims lists the names of resources, defined in spec.resourceClaims, that are used by this container. This field depends on the DynamicResourceAllocation feature gate. This field is immutable. It can only be set for containers.
        :param limits: Limits describes the maximum amount of compute resources allowed. More info: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
        :param requests: Requests describes the minimum amount of compute resources required. If Requests is omitted for a container, it defaults to Limits if that is explicitly specified, otherwise to an implementation-defined value. Requests cannot exceed Limits. More info: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/

        :schema: ObjectStoreSpecInstanceSidecarConfigurationResources
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__f62e46bfc9354992189b3fd24491cfe6485d1274ccf2eb3ee3df2f31ac978532)
            check_type(argname="argument claims", value=claims, expected_type=type_hints["claims"])
            check_type(argname="argument limits", value=limits, expected_type=type_hints["limits"])
            check_type(argname="argument requests", value=requests, expected_type=type_hints["requests"])
        self._values: typing.Dict[builtins.str, typing.Any] = {}
        if claims is not None:
            self._values["claims"] = claims
        if limits is not None:
            self._values["limits"] = limits
        if requests is not None:
            self._values["requests"] = requests

    @builtins.property
    def claims(
        self,
    ) -> typing.Optional[typing.List["ObjectStoreSpecInstanceSidecarConfigurationResourcesClaims"]]:
        '''Claims lists the names of resources, defined in spec.resourceClaims, that are used by this container.

        This field depends on the
        DynamicResourceAllocation feature gate.

        This field is immutable. It can only be set for containers.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationResources#claims
        '''
        result = self._values.get("claims")
        return typing.cast(typing.Optional[typing.List["ObjectStoreSpecInstanceSidecarConfigurationResourcesClaims"]], result)

    @builtins.property
    def limits(
        self,
    ) -> typing.Optional[typing.Mapping[builtins.str, "ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits"]]:
        '''Limits describes the maximum amount of compute resources allowed.

        More info: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/

        :schema: ObjectStoreSpecInstanceSidecarConfigurationResources#limits
        '''
        result = self._values.get("limits")
        return typing.cast(typing.Optional[typing.Mapping[builtins.str, "ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits"]], result)

    @builtins.property
    def requests(
        self,
    ) -> typing.Optional[typing.Mapping[builtins.str, "ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests"]]:
        '''Requests describes the minimum amount of compute resources required.

        If Requests is omitted for a container, it defaults to Limits if that is explicitly specified,
        otherwise to an implementation-defined value. Requests cannot exceed Limits.
        More info: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/

        :schema: ObjectStoreSpecInstanceSidecarConfigurationResources#requests
        '''
        result = self._values.get("requests")
        return typing.cast(typing.Optional[typing.Mapping[builtins.str, "ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests"]], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecInstanceSidecarConfigurationResources(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


@jsii.data_type(
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationResourcesClaims",
    jsii_struct_bases=[],
    name_mapping={"name": "name", "request": "request"},
)
class ObjectStoreSpecInstanceSidecarConfigurationResourcesClaims:
    def __init__(
        self,
        *,
        name: builtins.str,
        request: typing.Optional[builtins.str] = None,
    ) -> None:
        '''ResourceClaim references one entry in PodSpec.ResourceClaims.

        :param name: Name must match the name of one entry in pod.spec.resourceClaims of the Pod where this field is used. It makes that resource available inside a container.
        :param request: Request is the name chosen for a request in the referenced claim. If empty, everything from the claim is made available, otherwise only the result of this request.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationResourcesClaims
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__018276ac3df699dfab72d60400e695f2f87fe2a5c4ffaaa989d567604761cc56)
            check_type(argname="argument name", value=name, expected_type=type_hints["name"])
            check_type(argname="argument request", value=request, expected_type=type_hints["request"])
        self._values: typing.Dict[builtins.str, typing.Any] = {
            "name": name,
        }
        if request is not None:
            self._values["request"] = request

    @builtins.property
    def name(self) -> builtins.str:
        '''Name must match the name of one entry in pod.spec.resourceClaims of the Pod where this field is used. It makes that resource available inside a container.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationResourcesClaims#name
        '''
        result = self._values.get("name")
        assert result is not None, "Required property 'name' is missing"
        return typing.cast(builtins.str, result)

    @builtins.property
    def request(self) -> typing.Optional[builtins.str]:
        '''Request is the name chosen for a request in the referenced claim.

        If empty, everything from the claim is made available, otherwise
        only the result of this request.

        :schema: ObjectStoreSpecInstanceSidecarConfigurationResourcesClaims#request
        '''
        result = self._values.get("request")
        return typing.cast(typing.Optional[builtins.str], result)

    def __eq__(self, rhs: typing.Any) -> builtins.bool:
        return isinstance(rhs, self.__class__) and rhs._values == self._values

    def __ne__(self, rhs: typing.Any) -> builtins.bool:
        return not (rhs == self)

    def __repr__(self) -> str:
        return "ObjectStoreSpecInstanceSidecarConfigurationResourcesClaims(%s)" % ", ".join(
            k + "=" + repr(v) for k, v in self._values.items()
        )


class ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits(
    metaclass=jsii.JSIIMeta,
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits",
):
    '''
    :schema: ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits
    '''

    @jsii.member(jsii_name="fromNumber")
    @builtins.classmethod
    def from_number(
        cls,
        value: jsii.Number,
    ) -> "ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits":
        '''
        :param value: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__a72b667cc520187dd22f84abf458510399ffbba1a8d0563bfd669380833175bf)
            check_type(argname="argument value", value=value, expected_type=type_hints["value"])
        return typing.cast("ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits", jsii.sinvoke(cls, "fromNumber", [value]))

    @jsii.member(jsii_name="fromString")
    @builtins.classmethod
    def from_string(
        cls,
        value: builtins.str,
    ) -> "ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits":
        '''
        :param value: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__b0450c8e3bd67df823b482be6071f7d761f1b30b10e48330eb639920530999af)
            check_type(argname="argument value", value=value, expected_type=type_hints["value"])
        return typing.cast("ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits", jsii.sinvoke(cls, "fromString", [value]))

    @builtins.property
    @jsii.member(jsii_name="value")
    def value(self) -> typing.Union[builtins.str, jsii.Number]:
        return typing.cast(typing.Union[builtins.str, jsii.Number], jsii.get(self, "value"))


class ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests(
    metaclass=jsii.JSIIMeta,
    jsii_type="barman_objectstores_iocnpgbarmancloud.ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests",
):
    '''
    :schema: ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests
    '''

    @jsii.member(jsii_name="fromNumber")
    @builtins.classmethod
    def from_number(
        cls,
        value: jsii.Number,
    ) -> "ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests":
        '''
        :param value: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__6c52e06cc3b82bca199039d3afccdd9d08a89819d6e88a7acfb9fd478e6da62b)
            check_type(argname="argument value", value=value, expected_type=type_hints["value"])
        return typing.cast("ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests", jsii.sinvoke(cls, "fromNumber", [value]))

    @jsii.member(jsii_name="fromString")
    @builtins.classmethod
    def from_string(
        cls,
        value: builtins.str,
    ) -> "ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests":
        '''
        :param value: -
        '''
        if __debug__:
            type_hints = cached_type_hints(_typecheckingstub__e76ebc91befae73e32fc5d96fa90c111f57a4b03e38721fb218519145ead097b)
            check_type(argname="argument value", value=value, expected_type=type_hints["value"])
        return typing.cast("ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests", jsii.sinvoke(cls, "fromString", [value]))

    @builtins.property
    @jsii.member(jsii_name="value")
    def value(self) -> typing.Union[builtins.str, jsii.Number]:
        return typing.cast(typing.Union[builtins.str, jsii.Number], jsii.get(self, "value"))


__all__ = [
    "ObjectStore",
    "ObjectStoreProps",
    "ObjectStoreSpec",
    "ObjectStoreSpecConfiguration",
    "ObjectStoreSpecConfigurationAzureCredentials",
    "ObjectStoreSpecConfigurationAzureCredentialsConnectionString",
    "ObjectStoreSpecConfigurationAzureCredentialsStorageAccount",
    "ObjectStoreSpecConfigurationAzureCredentialsStorageKey",
    "ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken",
    "ObjectStoreSpecConfigurationData",
    "ObjectStoreSpecConfigurationDataCompression",
    "ObjectStoreSpecConfigurationDataEncryption",
    "ObjectStoreSpecConfigurationEndpointCa",
    "ObjectStoreSpecConfigurationGoogleCredentials",
    "ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials",
    "ObjectStoreSpecConfigurationS3Credentials",
    "ObjectStoreSpecConfigurationS3CredentialsAccessKeyId",
    "ObjectStoreSpecConfigurationS3CredentialsRegion",
    "ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey",
    "ObjectStoreSpecConfigurationS3CredentialsSessionToken",
    "ObjectStoreSpecConfigurationWal",
    "ObjectStoreSpecConfigurationWalCompression",
    "ObjectStoreSpecConfigurationWalEncryption",
    "ObjectStoreSpecInstanceSidecarConfiguration",
    "ObjectStoreSpecInstanceSidecarConfigurationEnv",
    "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom",
    "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef",
    "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef",
    "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef",
    "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef",
    "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor",
    "ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef",
    "ObjectStoreSpecInstanceSidecarConfigurationLogLevel",
    "ObjectStoreSpecInstanceSidecarConfigurationResources",
    "ObjectStoreSpecInstanceSidecarConfigurationResourcesClaims",
    "ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits",
    "ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests",
]

publication.publish()

def _typecheckingstub__5640cf352992d0e6f3b6e1abfecd48218b71e287e571535b8b9c8be8d7dccb74(
    scope: _constructs_77d1e7e8.Construct,
    id: builtins.str,
    *,
    metadata: typing.Union[_cdk8s_d3d9af27.ApiObjectMetadata, typing.Dict[builtins.str, typing.Any]],
    spec: typing.Union[ObjectStoreSpec, typing.Dict[builtins.str, typing.Any]],
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__1f2a9074ef5c4685bb9c98d68e6ae9eaf48b2eb154c74a97437ae28a789e579a(
    *,
    metadata: typing.Union[_cdk8s_d3d9af27.ApiObjectMetadata, typing.Dict[builtins.str, typing.Any]],
    spec: typing.Union[ObjectStoreSpec, typing.Dict[builtins.str, typing.Any]],
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__8dc2be14e9f2dfa12ad878f161f2f062078d455f783a2a08ff33aabb0380ae97(
    *,
    configuration: typing.Union[ObjectStoreSpecConfiguration, typing.Dict[builtins.str, typing.Any]],
    instance_sidecar_configuration: typing.Optional[typing.Union[ObjectStoreSpecInstanceSidecarConfiguration, typing.Dict[builtins.str, typing.Any]]] = None,
    retention_policy: typing.Optional[builtins.str] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__7a6afe973eb14a76d2095d3d6895583c78641684d60e20bcc96782611547a574(
    *,
    destination_path: builtins.str,
    azure_credentials: typing.Optional[typing.Union[ObjectStoreSpecConfigurationAzureCredentials, typing.Dict[builtins.str, typing.Any]]] = None,
    data: typing.Optional[typing.Union[ObjectStoreSpecConfigurationData, typing.Dict[builtins.str, typing.Any]]] = None,
    endpoint_ca: typing.Optional[typing.Union[ObjectStoreSpecConfigurationEndpointCa, typing.Dict[builtins.str, typing.Any]]] = None,
    endpoint_url: typing.Optional[builtins.str] = None,
    google_credentials: typing.Optional[typing.Union[ObjectStoreSpecConfigurationGoogleCredentials, typing.Dict[builtins.str, typing.Any]]] = None,
    history_tags: typing.Optional[typing.Mapping[builtins.str, builtins.str]] = None,
    s3_credentials: typing.Optional[typing.Union[ObjectStoreSpecConfigurationS3Credentials, typing.Dict[builtins.str, typing.Any]]] = None,
    server_name: typing.Optional[builtins.str] = None,
    tags: typing.Optional[typing.Mapping[builtins.str, builtins.str]] = None,
    wal: typing.Optional[typing.Union[ObjectStoreSpecConfigurationWal, typing.Dict[builtins.str, typing.Any]]] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__0866189656601453fc184c1395bc40fb36da8227c336c31df5dacc48b6930e31(
    *,
    connection_string: typing.Optional[typing.Union[ObjectStoreSpecConfigurationAzureCredentialsConnectionString, typing.Dict[builtins.str, typing.Any]]] = None,
    inherit_from_azure_ad: typing.Optional[builtins.bool] = None,
    storage_account: typing.Optional[typing.Union[ObjectStoreSpecConfigurationAzureCredentialsStorageAccount, typing.Dict[builtins.str, typing.Any]]] = None,
    storage_key: typing.Optional[typing.Union[ObjectStoreSpecConfigurationAzureCredentialsStorageKey, typing.Dict[builtins.str, typing.Any]]] = None,
    storage_sas_token: typing.Optional[typing.Union[ObjectStoreSpecConfigurationAzureCredentialsStorageSasToken, typing.Dict[builtins.str, typing.Any]]] = None,
    use_default_azure_credentials: typing.Optional[builtins.bool] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__0f3dcc1a41cac3610be240e464eb41cc9b20691aa56af2b90f1b541290f610a7(
    *,
    key: builtins.str,
    name: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__592adaaabcf71b1e297d44524a11f78f31da420225bf62c73bfdd4b23a0bf576(
    *,
    key: builtins.str,
    name: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__ee6c23f866f9422f9e018d60f8ba1f0d0c9b7cfff7338841a03d792146afe715(
    *,
    key: builtins.str,
    name: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__fefc5b1aa5bdb7596569e2f944210aa51bae8568adbc51de5dfe016a3affff81(
    *,
    key: builtins.str,
    name: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__b2a2271acb2b708cb84ebc34f2a1c2acdf6660847caecb8083e5db104445868e(
    *,
    additional_command_args: typing.Optional[typing.Sequence[builtins.str]] = None,
    compression: typing.Optional[ObjectStoreSpecConfigurationDataCompression] = None,
    encryption: typing.Optional[ObjectStoreSpecConfigurationDataEncryption] = None,
    immediate_checkpoint: typing.Optional[builtins.bool] = None,
    jobs: typing.Optional[jsii.Number] = None,
    restore_additional_command_args: typing.Optional[typing.Sequence[builtins.str]] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__726f592068fe2ec5a551ffdb6a98734e6ec7c0b73993ac46db059659642ba201(
    *,
    key: builtins.str,
    name: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__21ea3d63cc7957254ecf84add8d7ea7a3f1db1a703b1351f3638985481b4ec6a(
    *,
    application_credentials: typing.Optional[typing.Union[ObjectStoreSpecConfigurationGoogleCredentialsApplicationCredentials, typing.Dict[builtins.str, typing.Any]]] = None,
    gke_environment: typing.Optional[builtins.bool] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__3f2f6fb77150e1a6e9ddb07077ebc774b57d6f0a27be9d34d92432880af5c5df(
    *,
    key: builtins.str,
    name: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__f85c2a1cdbe943650b28383b7d5e6914d29524aee441e62046f7156d4856e3e1(
    *,
    access_key_id: typing.Optional[typing.Union[ObjectStoreSpecConfigurationS3CredentialsAccessKeyId, typing.Dict[builtins.str, typing.Any]]] = None,
    inherit_from_iam_role: typing.Optional[builtins.bool] = None,
    region: typing.Optional[typing.Union[ObjectStoreSpecConfigurationS3CredentialsRegion, typing.Dict[builtins.str, typing.Any]]] = None,
    secret_access_key: typing.Optional[typing.Union[ObjectStoreSpecConfigurationS3CredentialsSecretAccessKey, typing.Dict[builtins.str, typing.Any]]] = None,
    session_token: typing.Optional[typing.Union[ObjectStoreSpecConfigurationS3CredentialsSessionToken, typing.Dict[builtins.str, typing.Any]]] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__4bd36fda5e4a501f88c3fc74a755ac844349c55f6922ff9a3151ff3a3c042528(
    *,
    key: builtins.str,
    name: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__6d47e81ab13d7298b89c3a2c14514d145471e5bc11ca90875911d71f3fe9ee99(
    *,
    key: builtins.str,
    name: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__31b63dd026749291e4979382f24588496331e53d54132e7caa366f5d7561e8f1(
    *,
    key: builtins.str,
    name: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__e10ebabdf60a7bb2f63ecad442b1cca6f5d89dc26f1f021002538bd0c0b19662(
    *,
    key: builtins.str,
    name: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__b55d7ee6def1cb840a985b0ff10c5cac8c95897a93992437f5f9fd78b4d02398(
    *,
    archive_additional_command_args: typing.Optional[typing.Sequence[builtins.str]] = None,
    compression: typing.Optional[ObjectStoreSpecConfigurationWalCompression] = None,
    encryption: typing.Optional[ObjectStoreSpecConfigurationWalEncryption] = None,
    max_parallel: typing.Optional[jsii.Number] = None,
    restore_additional_command_args: typing.Optional[typing.Sequence[builtins.str]] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__6f639d0441050ee4aab11112f8c4e2ce7b1d38dfd4922f4e8ece070e92269ac5(
    *,
    additional_container_args: typing.Optional[typing.Sequence[builtins.str]] = None,
    env: typing.Optional[typing.Sequence[typing.Union[ObjectStoreSpecInstanceSidecarConfigurationEnv, typing.Dict[builtins.str, typing.Any]]]] = None,
    log_level: typing.Optional[ObjectStoreSpecInstanceSidecarConfigurationLogLevel] = None,
    resources: typing.Optional[typing.Union[ObjectStoreSpecInstanceSidecarConfigurationResources, typing.Dict[builtins.str, typing.Any]]] = None,
    retention_policy_interval_seconds: typing.Optional[jsii.Number] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__546539492904c01bf9ab0c273b75b17a3f4c2f4f389c89931c905cdfe172a4fe(
    *,
    name: builtins.str,
    value: typing.Optional[builtins.str] = None,
    value_from: typing.Optional[typing.Union[ObjectStoreSpecInstanceSidecarConfigurationEnvValueFrom, typing.Dict[builtins.str, typing.Any]]] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__8b44ac33a7d3e0001c2fb189100d24047b1844cad09b01ae4faae3010e9c7347(
    *,
    config_map_key_ref: typing.Optional[typing.Union[ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromConfigMapKeyRef, typing.Dict[builtins.str, typing.Any]]] = None,
    field_ref: typing.Optional[typing.Union[ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFieldRef, typing.Dict[builtins.str, typing.Any]]] = None,
    file_key_ref: typing.Optional[typing.Union[ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromFileKeyRef, typing.Dict[builtins.str, typing.Any]]] = None,
    resource_field_ref: typing.Optional[typing.Union[ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRef, typing.Dict[builtins.str, typing.Any]]] = None,
    secret_key_ref: typing.Optional[typing.Union[ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromSecretKeyRef, typing.Dict[builtins.str, typing.Any]]] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__02803c9d97a4a4bd3609f625f7df2b7b68ef754a751c7b0e9caa8ddcc3188976(
    *,
    key: builtins.str,
    name: typing.Optional[builtins.str] = None,
    optional: typing.Optional[builtins.bool] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__4615dc929c8bf9d9ee87762b37d2105dee2cfae9866553854d17f90fb97ce506(
    *,
    field_path: builtins.str,
    api_version: typing.Optional[builtins.str] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__3ab332f8a2c59fe6a6ef808608ebf9393a7c5306b75824b6b7c5affb0188dfb7(
    *,
    key: builtins.str,
    path: builtins.str,
    volume_name: builtins.str,
    optional: typing.Optional[builtins.bool] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__840761f57e42c369b55a16e6d6ffbb8eef0554fa69c235dbaac4a34b6fd62975(
    *,
    resource: builtins.str,
    container_name: typing.Optional[builtins.str] = None,
    divisor: typing.Optional[ObjectStoreSpecInstanceSidecarConfigurationEnvValueFromResourceFieldRefDivisor] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__25c9c401460964a8e138a592ce16af425e02b37637068865944d8f6e862ef7c4(
    value: jsii.Number,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__b2a46f6f8e0127821d67717080b1836a01ec9ca4393b140b4ba2d66361b233eb(
    value: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__ed750d45a95ebd015d745f03db0398611e05184dfe20bb5349119d6109784156(
    *,
    key: builtins.str,
    name: typing.Optional[builtins.str] = None,
    optional: typing.Optional[builtins.bool] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__f62e46bfc9354992189b3fd24491cfe6485d1274ccf2eb3ee3df2f31ac978532(
    *,
    claims: typing.Optional[typing.Sequence[typing.Union[ObjectStoreSpecInstanceSidecarConfigurationResourcesClaims, typing.Dict[builtins.str, typing.Any]]]] = None,
    limits: typing.Optional[typing.Mapping[builtins.str, ObjectStoreSpecInstanceSidecarConfigurationResourcesLimits]] = None,
    requests: typing.Optional[typing.Mapping[builtins.str, ObjectStoreSpecInstanceSidecarConfigurationResourcesRequests]] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__018276ac3df699dfab72d60400e695f2f87fe2a5c4ffaaa989d567604761cc56(
    *,
    name: builtins.str,
    request: typing.Optional[builtins.str] = None,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__a72b667cc520187dd22f84abf458510399ffbba1a8d0563bfd669380833175bf(
    value: jsii.Number,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__b0450c8e3bd67df823b482be6071f7d761f1b30b10e48330eb639920530999af(
    value: builtins.str,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__6c52e06cc3b82bca199039d3afccdd9d08a89819d6e88a7acfb9fd478e6da62b(
    value: jsii.Number,
) -> None:
    """Type checking stubs"""
    pass

def _typecheckingstub__e76ebc91befae73e32fc5d96fa90c111f57a4b03e38721fb218519145ead097b(
    value: builtins.str,
) -> None:
    """Type checking stubs"""
    pass
